import { ProtocolError } from './errors.js';
import {
  type ClientFrame,
  type Frame,
  FrameType,
  type MessageFrame,
  type ReplyKind,
  type ResumeRequest,
  type ServerFrame,
} from './frames.js';
import { pack, unpack as unpackValue } from './msgpack.js';
import { ProbeError } from './probe-error.js';
import { validate, validateFromClient, validateFromServer } from './validate.js';

// MessagePack itself is msgpack.ts (msgpackr) in Node builds and msgpack-lean.ts in browser and
// React Native builds; both write the same bytes and read them the same way
// (docs/browser-codec.md). Extension types are refused here, by scanning the bytes
// (findExtension), so both see plain data only.

/**
 * Packs a frame holding application data, which must be plain data (see {@link findExtension}).
 * @throws {ProbeError} `unencodable` when it is not, or MessagePack cannot represent it.
 */
function packData(value: unknown): Uint8Array {
  let packed: Uint8Array;
  try {
    packed = pack(value);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new ProbeError('unencodable', `message cannot be encoded as MessagePack: ${detail}`);
  }
  const at = findExtension(packed);
  if (at >= 0)
    throw new ProbeError('unencodable', `message holds ${describeExtension(packed, at)}`);
  return packed;
}

/** What a WebSocket hands over for one message. */
export type WireData = Uint8Array | ArrayBuffer | string;

/** A MESSAGE's array marker, data and event name, from {@link encodePayload}. */
export type EncodedPayload = Uint8Array & { readonly __encodedPayload: true };

/** Encodes any frame. The hot paths below avoid building the frame object. */
export function encode(frame: Frame): Uint8Array {
  switch (frame.type) {
    case FrameType.HELLO:
      return encodeHello(frame.version, frame.auth, frame.resume);
    case FrameType.WELCOME:
      return pack([
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
      return encodeMessage(
        frame.seq,
        frame.data,
        frame.event ?? null,
        frame.call ?? null,
        frame.reply ?? null,
      );
    case FrameType.ACK:
      return encodeAck(frame.seq);
    case FrameType.GOODBYE:
      return encodeGoodbye(frame.code, frame.reason);
  }
}

/**
 * A HELLO; `auth` undefined is sent as nil.
 * @throws {ProbeError} `unencodable` when `auth` is not plain data (as {@link encodeMessage}).
 */
export function encodeHello(
  version: number,
  auth: unknown,
  resume: ResumeRequest | null,
): Uint8Array {
  return packData([
    FrameType.HELLO,
    version,
    auth ?? null,
    resume && [resume.sessionId, resume.token, resume.lastSeq, resume.sentSeq],
  ]);
}

export function encodeGoodbye(code: number, reason: string): Uint8Array {
  return pack([FrameType.GOODBYE, code, reason]);
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
  return pack(ack === null ? [FrameType.PROBE_ANSWER, id] : [FrameType.PROBE_ANSWER, id, ack]);
}

export function encodeAck(seq: number): Uint8Array {
  return pack([FrameType.ACK, seq]);
}

/**
 * A MESSAGE. `data` is sent as plain MessagePack (PROTOCOL.md section 2, data model): a `Map` as
 * a map, a `Set` as an array, a `bigint` within 64 bits as an integer.
 * @throws {ProbeError} `unencodable` when MessagePack cannot represent `data`, or when it holds
 * a `Date` (send a number or an ISO string) or another value msgpackr writes as an extension.
 */
export function encodeMessage(
  seq: number,
  data: unknown,
  event: string | null = null,
  call: number | null = null,
  reply: ReplyKind | null = null,
): Uint8Array {
  return packData(
    call !== null
      ? reply !== null
        ? [FrameType.MESSAGE, seq, data, null, call, reply]
        : [FrameType.MESSAGE, seq, data, event, call]
      : event !== null
        ? [FrameType.MESSAGE, seq, data, event]
        : [FrameType.MESSAGE, seq, data],
  );
}

/**
 * Encodes application data (and an event name) once, to be framed for many sessions
 * (broadcast): the MessagePack array marker of the frame, then the data, then the name.
 * @throws {ProbeError} `unencodable`, as {@link encodeMessage}.
 */
export function encodePayload(data: unknown, event: string | null = null): EncodedPayload {
  const tail = packData(event === null ? [data] : [data, event]);
  // A fixarray of 1 or 2 becomes the frame's fixarray of 3 or 4 (type and seq in front).
  tail[0] = (tail[0] as number) + 2;
  return tail as EncodedPayload;
}

/**
 * Frames an already encoded payload as a MESSAGE: the array marker, type and sequence number
 * in front of the payload's values, byte-identical to {@link encodeMessage}.
 */
export function encodeMessageWithPayload(seq: number, payload: EncodedPayload): Uint8Array {
  const headerLength = 2 + uintLength(seq);
  const out = new Uint8Array(headerLength + payload.length - 1);
  out[0] = payload[0] as number; // fixarray of 3 or 4
  out[1] = FrameType.MESSAGE;
  writeUint(out, 2, seq);
  out.set(payload.subarray(1), headerLength);
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
 * The offset of the first value in `bytes` that is not plain data, or -1: an extension type
 * (msgpackr would build a BigInt, RegExp, Error, Set, typed array, Date or record from it) or
 * 0xc1, a byte MessagePack never uses (msgpackr returns a marker object for it). It reads only
 * headers and skips payloads, so it costs one pass over the bytes with no recursion however
 * deep the nesting. It stops at the end of `bytes`: a truncated value is the decoder's to report.
 * Exported for msgpack-lean.test.ts (not part of the package's API: index.ts leaves it out).
 */
export function findExtension(bytes: Uint8Array): number {
  const end = bytes.length;
  let at = 0;
  // Values still to read: an array adds its length, a map twice its size.
  let pending = 1;
  while (pending > 0 && at < end) {
    const marker = bytes[at]!;
    pending--;
    if (marker < 0xc0 || marker >= 0xe0) {
      // fixint, fixmap, fixarray, fixstr: the marker holds the size
      if (marker >= 0xa0 && marker < 0xc0) at += marker & 0x1f;
      else if (marker >= 0x80 && marker < 0xa0) {
        pending += marker < 0x90 ? 2 * (marker & 0x0f) : marker & 0x0f;
      }
      at += 1;
    } else {
      switch (marker) {
        case 0xc4: // bin 8, str 8
        case 0xd9:
          at += 2 + uint(bytes, at + 1, 1);
          break;
        case 0xc5: // bin 16, str 16
        case 0xda:
          at += 3 + uint(bytes, at + 1, 2);
          break;
        case 0xc6: // bin 32, str 32
        case 0xdb:
          at += 5 + uint(bytes, at + 1, 4);
          break;
        case 0xdc: // array 16, array 32, map 16, map 32
        case 0xdd:
        case 0xde:
        case 0xdf: {
          const width = marker & 1 ? 4 : 2;
          pending += uint(bytes, at + 1, width) * (marker < 0xde ? 1 : 2);
          at += 1 + width;
          break;
        }
        default: {
          // nil, booleans, floats, (u)int 8–64: the marker and a fixed-size value. 0 marks the
          // rest: 0xc1 (never used), ext 8/16/32 (0xc7–0xc9) and fixext 1–16 (0xd4–0xd8).
          const size = FIXED_SIZE[marker - 0xc0]!;
          if (size === 0) return at;
          at += size;
        }
      }
    }
  }
  return -1;
}

/** Sizes of the values 0xc0–0xd8 with their marker; 0 for what is not plain data. */
const FIXED_SIZE = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 0, 0, 0, 0, 0];

/** A big-endian unsigned integer of `width` bytes; missing bytes read as 0. */
function uint(bytes: Uint8Array, at: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + (bytes[at + i] ?? 0);
  return n;
}

/** Names the extension value at `at` (found by {@link findExtension}) for an error message. */
function describeExtension(bytes: Uint8Array, at: number): string {
  const marker = bytes[at];
  // ext 8/16/32 put a 1, 2 or 4 byte length before the (signed) type; fixext has none.
  const typeAt = at + 1 + (marker === 0xc7 ? 1 : marker === 0xc8 ? 2 : marker === 0xc9 ? 4 : 0);
  const type = ((bytes[typeAt] ?? 0) << 24) >> 24;
  return type === -1
    ? 'a Date (MessagePack timestamp); send dates as numbers or ISO strings'
    : `MessagePack extension type ${type}; Probe carries plain data only`;
}

/**
 * Checks 1–5 (and 3a) of PROTOCOL.md section 2: the bytes of one MessagePack array, not yet
 * validated.
 * @throws {ProtocolError} and nothing else, whatever the input.
 */
function unpack(data: WireData, maxBytes = Number.POSITIVE_INFINITY): unknown[] {
  if (typeof data === 'string') {
    throw new ProtocolError('text-frame', 'text frames are not supported; send binary MessagePack');
  }
  if (!(data instanceof Uint8Array) && !(data instanceof ArrayBuffer)) {
    // A Blob (React Native, a browser with binaryType 'blob') must be read into bytes first.
    throw new ProtocolError(
      'invalid-frame',
      'a frame must arrive as bytes (Uint8Array or ArrayBuffer)',
    );
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
  const at = findExtension(bytes);
  if (at >= 0) {
    throw bytes[at] === 0xc1
      ? new ProtocolError('malformed', 'frame is not valid MessagePack (byte 0xc1)')
      : new ProtocolError('unsupported-type', `frame holds ${describeExtension(bytes, at)}`);
  }
  return unpackValue(bytes) as unknown[];
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
  return decodeOwnMessage(frame)?.data;
}

/**
 * A MESSAGE this side encoded, with its event name, request id and reply kind (for reporting
 * undelivered messages); undefined for any other frame. Not validated: use it on frames from
 * {@link encodeMessage} only.
 */
export function decodeOwnMessage(frame: Uint8Array): MessageFrame | undefined {
  const value = unpack(frame);
  if (value[0] !== FrameType.MESSAGE) return undefined;
  const [, seq, data, event = null, call = null, reply = null] = value;
  return { type: FrameType.MESSAGE, seq, data, event, call, reply } as MessageFrame;
}
