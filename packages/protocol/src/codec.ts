import { Packr, Unpackr } from 'msgpackr';
import { ProtocolError } from './errors.js';
import { type Frame, FrameType } from './frames.js';
import { ProbeError } from './probe-error.js';
import { validate } from './validate.js';

// Plain MessagePack only: no records/structures, no structured-clone references and undefined as
// nil, so any MessagePack decoder in any language can read every frame we write.
const packr = new Packr({ useRecords: false, structuredClone: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: 'number',
});

/** What a WebSocket hands over for one message. */
export type WireData = Uint8Array | ArrayBuffer | string;

/** Bytes of one MessagePack value, for {@link encodeMessageWithPayload}. */
export type EncodedPayload = Uint8Array & { readonly __encodedPayload: true };

/** Encodes any frame. The hot paths below avoid building the frame object. */
export function encode(frame: Frame): Uint8Array {
  switch (frame.type) {
    case FrameType.HELLO: {
      const resume = frame.resume && [
        frame.resume.sessionId,
        frame.resume.token,
        frame.resume.lastSeq,
        frame.resume.sentSeq,
      ];
      return packr.pack([frame.type, frame.version, frame.auth ?? null, resume]);
    }
    case FrameType.WELCOME:
      return packr.pack([
        frame.type,
        frame.version,
        frame.sessionId,
        frame.token,
        frame.probeIntervalMs,
        frame.probeTimeoutMs,
        frame.maxPayloadBytes,
        frame.resumed,
        frame.lastSeq,
        frame.sentSeq,
      ]);
    case FrameType.PROBE:
      return encodeProbe(frame.id);
    case FrameType.PROBE_ANSWER:
      return encodeProbeAnswer(frame.id, frame.ack);
    case FrameType.MESSAGE:
      return encodeMessage(frame.seq, frame.data);
    case FrameType.ACK:
      return encodeAck(frame.seq);
    case FrameType.GOODBYE:
      return packr.pack([frame.type, frame.code, frame.reason]);
  }
}

export function encodeProbe(id: number): Uint8Array {
  return packr.pack([FrameType.PROBE, id]);
}

export function encodeProbeAnswer(id: number, ack: number | null): Uint8Array {
  return packr.pack(
    ack === null ? [FrameType.PROBE_ANSWER, id] : [FrameType.PROBE_ANSWER, id, ack],
  );
}

export function encodeAck(seq: number): Uint8Array {
  return packr.pack([FrameType.ACK, seq]);
}

/** @throws {ProbeError} `unencodable` when MessagePack cannot represent `data`. */
export function encodeMessage(seq: number, data: unknown): Uint8Array {
  try {
    return packr.pack([FrameType.MESSAGE, seq, data]);
  } catch (cause) {
    throw unencodable(cause);
  }
}

/** Encodes application data once, to be framed for many sessions (broadcast). */
export function encodePayload(data: unknown): EncodedPayload {
  try {
    return packr.pack(data) as unknown as EncodedPayload;
  } catch (cause) {
    throw unencodable(cause);
  }
}

function unencodable(cause: unknown): ProbeError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ProbeError('unencodable', `message cannot be encoded as MessagePack: ${detail}`);
}

/**
 * Frames an already encoded payload as a MESSAGE: a few header bytes (array marker, type,
 * sequence number) in front of the payload bytes, byte-identical to {@link encodeMessage}.
 */
export function encodeMessageWithPayload(seq: number, payload: EncodedPayload): Uint8Array {
  const headerLength = 2 + uintLength(seq);
  const out = new Uint8Array(headerLength + payload.length);
  out[0] = 0x93; // fixarray of 3
  out[1] = FrameType.MESSAGE;
  writeUint(out, 2, seq);
  out.set(payload, headerLength);
  return out;
}

function uintLength(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x100) return 2;
  if (n < 0x1_0000) return 3;
  if (n < 0x1_0000_0000) return 5;
  return 9;
}

function writeUint(out: Uint8Array, at: number, n: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (n < 0x80) out[at] = n;
  else if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
  } else if (n < 0x1_0000) {
    out[at] = 0xcd;
    view.setUint16(at + 1, n);
  } else if (n < 0x1_0000_0000) {
    out[at] = 0xce;
    view.setUint32(at + 1, n);
  } else {
    // msgpackr writes integers of 2^32 and above as float64, so do the same to stay identical.
    out[at] = 0xcb;
    view.setFloat64(at + 1, n);
  }
}

function toBytes(data: Uint8Array | ArrayBuffer): Uint8Array {
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

/**
 * Decodes and validates one frame.
 * @param maxBytes frames longer than this are refused before decoding (`too-large`).
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
export function decode(data: WireData, maxBytes = Number.POSITIVE_INFINITY): Frame {
  if (typeof data === 'string') {
    throw new ProtocolError('text-frame', 'text frames are not supported; send binary MessagePack');
  }
  const bytes = toBytes(data);
  if (bytes.length > maxBytes) {
    throw new ProtocolError(
      'too-large',
      `frame of ${bytes.length} bytes exceeds the limit of ${maxBytes}`,
    );
  }
  const first = bytes[0];
  // Every frame is a fixarray; refuse anything else before decoding a possibly large value.
  if (first === undefined || first < 0x91 || first > 0x9f) {
    throw new ProtocolError('invalid-frame', 'a frame must be a non-empty MessagePack array');
  }
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (cause) {
    const trailing = cause instanceof Error && cause.message.includes('end of buffer not reached');
    throw trailing
      ? new ProtocolError('trailing-bytes', 'frame has bytes after its MessagePack value', {
          cause,
        })
      : new ProtocolError('malformed', 'frame is not valid MessagePack', { cause });
  }
  return validate(value);
}

/** Decodes a MESSAGE frame's bytes back to its data (for reporting undelivered messages). */
export function decodeMessageData(frame: Uint8Array): unknown {
  const decoded = decode(frame);
  return decoded.type === FrameType.MESSAGE ? decoded.data : undefined;
}
