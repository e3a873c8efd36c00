import { Packr } from 'msgpackr';
import { ProtocolError } from './errors.js';
import {
  type ClientFrame,
  type Frame,
  FrameType,
  type ResumeRequest,
  type ServerFrame,
} from './frames.js';
import { ProbeError } from './probe-error.js';
import { validate, validateFromClient, validateFromServer } from './validate.js';

// Plain MessagePack only: no records/structures, no structured-clone references and undefined as
// nil, so any MessagePack decoder in any language can read every frame we write. One instance
// does both (a Packr is an Unpackr); without records, maps decode as plain objects.
const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
});

/** What a WebSocket hands over for one message. */
export type WireData = Uint8Array | ArrayBuffer | string;

/** Bytes of one MessagePack value, for {@link encodeMessageWithPayload}. */
export type EncodedPayload = Uint8Array & { readonly __encodedPayload: true };

/** Encodes any frame. The hot paths below avoid building the frame object. */
export function encode(frame: Frame): Uint8Array {
  switch (frame.type) {
    case FrameType.HELLO:
      return encodeHello(frame.version, frame.auth, frame.resume);
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
      return encodeGoodbye(frame.code, frame.reason);
  }
}

/** A HELLO; `auth` undefined is sent as nil. */
export function encodeHello(
  version: number,
  auth: unknown,
  resume: ResumeRequest | null,
): Uint8Array {
  return packr.pack([
    FrameType.HELLO,
    version,
    auth ?? null,
    resume && [resume.sessionId, resume.token, resume.lastSeq, resume.sentSeq],
  ]);
}

export function encodeGoodbye(code: number, reason: string): Uint8Array {
  return packr.pack([FrameType.GOODBYE, code, reason]);
}

/** Hand-encoded: probes go to every connection every interval, so they skip the encoder. */
export function encodeProbe(id: number): Uint8Array {
  const out = new Uint8Array(2 + uintLength(id));
  out[0] = 0x92; // fixarray of 2
  out[1] = FrameType.PROBE;
  writeUint(out, 2, id);
  return out;
}

/**
 * The id of a PROBE_ANSWER without an ack, read straight from its bytes, or -1 for any other
 * frame (which then goes through {@link decodeFromClient}). The bytes it accepts are exactly
 * the valid encodings of `[4, id]`, so it refuses nothing the full decoder would accept.
 */
export function probeAnswerId(bytes: Uint8Array): number {
  if (bytes[0] !== 0x92 || bytes[1] !== FrameType.PROBE_ANSWER) return -1;
  const marker = bytes[2] ?? 0xff;
  const length = bytes.length;
  if (marker < 0x80) return length === 3 ? marker : -1;
  if (marker === 0xcc) return length === 4 ? (bytes[3] ?? -1) : -1;
  if (marker === 0xcd) return length === 5 ? ((bytes[3] ?? 0) << 8) | (bytes[4] ?? 0) : -1;
  if (marker === 0xce && length === 7) {
    return (
      (bytes[3] ?? 0) * 0x100_0000 +
      (((bytes[4] ?? 0) << 16) | ((bytes[5] ?? 0) << 8) | (bytes[6] ?? 0))
    );
  }
  return -1;
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
  if (n < 0x80) out[at] = n;
  else if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
  } else if (n < 0x1_0000) {
    out[at] = 0xcd;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
  } else if (n < 0x1_0000_0000) {
    out[at] = 0xce;
    out[at + 1] = n >>> 24;
    out[at + 2] = (n >>> 16) & 0xff;
    out[at + 3] = (n >>> 8) & 0xff;
    out[at + 4] = n & 0xff;
  } else {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    // msgpackr writes integers of 2^32 and above as float64, so do the same to stay identical.
    out[at] = 0xcb;
    view.setFloat64(at + 1, n);
  }
}

/**
 * Checks 1–5 of PROTOCOL.md section 2: the bytes of one MessagePack array, not yet validated.
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
function unpack(data: WireData, maxBytes = Number.POSITIVE_INFINITY): unknown[] {
  if (typeof data === 'string') {
    throw new ProtocolError('text-frame', 'text frames are not supported; send binary MessagePack');
  }
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
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
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    const trailing = cause instanceof Error && cause.message.includes('end of buffer not reached');
    throw new ProtocolError(
      trailing ? 'trailing-bytes' : 'malformed',
      trailing ? 'frame has bytes after its MessagePack value' : 'frame is not valid MessagePack',
      { cause },
    );
  }
}

/**
 * Decodes and validates one frame of either direction (for tools and tests; a peer uses
 * {@link decodeFromServer} or {@link decodeFromClient}).
 * @param maxBytes frames longer than this are refused before decoding (`too-large`).
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
export function decode(data: WireData, maxBytes?: number): Frame {
  return validate(unpack(data, maxBytes));
}

/**
 * Decodes and validates one frame received by a client: a HELLO or PROBE_ANSWER (frames only
 * clients send) is refused as `unexpected-frame`.
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
export function decodeFromServer(data: WireData, maxBytes?: number): ServerFrame {
  return validateFromServer(unpack(data, maxBytes));
}

/**
 * Decodes and validates one frame received by a server: a WELCOME or PROBE (frames only servers
 * send) is refused as `unexpected-frame`.
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
export function decodeFromClient(data: WireData, maxBytes?: number): ClientFrame {
  return validateFromClient(unpack(data, maxBytes));
}

/**
 * The data of a MESSAGE this side encoded (for reporting undelivered messages); undefined for
 * any other frame. Not validated: use it on frames from {@link encodeMessage} only.
 */
export function decodeMessageData(frame: Uint8Array): unknown {
  const value = unpack(frame);
  return value[0] === FrameType.MESSAGE ? value[2] : undefined;
}
