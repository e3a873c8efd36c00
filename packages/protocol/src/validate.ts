import { ProtocolError } from './errors.js';
import { type Frame, FrameType, type ResumeRequest } from './frames.js';

const MAX_UINT32 = 0xffff_ffff;
/** Longest session id or resume token a server will look at. */
export const MAX_ID_LENGTH = 128;
/** Longest goodbye reason, matching the WebSocket close reason limit. */
export const MAX_REASON_LENGTH = 123;

const NAMES: Record<number, string> = {
  [FrameType.HELLO]: 'hello',
  [FrameType.WELCOME]: 'welcome',
  [FrameType.PROBE]: 'probe',
  [FrameType.PROBE_ANSWER]: 'probe-answer',
  [FrameType.MESSAGE]: 'message',
  [FrameType.ACK]: 'ack',
  [FrameType.GOODBYE]: 'goodbye',
};

function fail(frame: string, what: string): never {
  throw new ProtocolError('invalid-frame', `'${frame}' ${what}`);
}

function isUint(value: unknown, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

function uint(frame: string, field: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (!isUint(value, max)) fail(frame, `requires an integer '${field}' from 0 to ${max}`);
  return value;
}

function id(frame: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    fail(frame, `requires a string '${field}' of 1 to ${MAX_ID_LENGTH} characters`);
  }
  return value;
}

function arity(frame: string, value: readonly unknown[], min: number, max = min): void {
  if (value.length < min || value.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    fail(frame, `must have ${expected} elements, got ${value.length}`);
  }
}

function resumeRequest(value: unknown): ResumeRequest | null {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length !== 4) {
    fail('hello', "requires 'resume' to be null or [sessionId, token, lastSeq, sentSeq]");
  }
  return {
    sessionId: id('hello', 'resume.sessionId', value[0]),
    token: id('hello', 'resume.token', value[1]),
    lastSeq: uint('hello', 'resume.lastSeq', value[2]),
    sentSeq: uint('hello', 'resume.sentSeq', value[3]),
  };
}

/**
 * Names a bad frame type briefly enough for a WebSocket close reason (123 bytes). Not plain
 * JSON.stringify: it throws on a BigInt (msgpackr extension 0x42) and can be megabytes long.
 */
function describeType(type: unknown): string {
  if (typeof type === 'number') return String(type);
  if (typeof type === 'string') {
    return JSON.stringify(type.length > 16 ? `${type.slice(0, 16)}…` : type);
  }
  return type === null ? 'null' : Array.isArray(type) ? 'array' : typeof type;
}

/**
 * Checks a decoded MessagePack value and returns the typed frame it holds.
 * @throws {ProtocolError} `unknown-frame-type` or `invalid-frame`, with a sentence naming the field.
 */
export function validate(value: unknown): Frame {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError('invalid-frame', 'a frame must be a non-empty MessagePack array');
  }
  const type = value[0];
  const name = typeof type === 'number' ? NAMES[type] : undefined;
  if (name === undefined) {
    throw new ProtocolError('unknown-frame-type', `unknown frame type ${describeType(type)}`);
  }
  switch (type) {
    case FrameType.MESSAGE:
      arity(name, value, 3);
      if (!isUint(value[1]) || value[1] === 0)
        fail(name, "requires an integer 'seq' from 1 to 2^53-1");
      return { type, seq: value[1], data: value[2] };
    case FrameType.PROBE:
      arity(name, value, 2);
      return { type, id: uint(name, 'id', value[1], MAX_UINT32) };
    case FrameType.PROBE_ANSWER:
      arity(name, value, 2, 3);
      return {
        type,
        id: uint(name, 'id', value[1], MAX_UINT32),
        ack: value.length === 3 ? uint(name, 'ack', value[2]) : null,
      };
    case FrameType.ACK:
      arity(name, value, 2);
      return { type, seq: uint(name, 'seq', value[1]) };
    case FrameType.HELLO:
      arity(name, value, 4);
      return {
        type,
        version: uint(name, 'version', value[1], 0xffff),
        auth: value[2] ?? null,
        resume: resumeRequest(value[3]),
      };
    case FrameType.WELCOME:
      arity(name, value, 10);
      if (typeof value[7] !== 'boolean') fail(name, "requires a boolean 'resumed'");
      return {
        type,
        version: uint(name, 'version', value[1], 0xffff),
        sessionId: id(name, 'sessionId', value[2]),
        token: id(name, 'token', value[3]),
        probeIntervalMs: uint(name, 'probeIntervalMs', value[4], MAX_UINT32),
        probeTimeoutMs: uint(name, 'probeTimeoutMs', value[5], MAX_UINT32),
        maxPayloadBytes: uint(name, 'maxPayloadBytes', value[6]),
        resumed: value[7],
        lastSeq: uint(name, 'lastSeq', value[8]),
        sentSeq: uint(name, 'sentSeq', value[9]),
      };
    default: {
      arity(name, value, 3);
      const code = value[1];
      if (!isUint(code) || code < 1000 || code > 4999)
        fail(name, "requires an integer 'code' from 1000 to 4999");
      if (typeof value[2] !== 'string' || value[2].length > MAX_REASON_LENGTH) {
        fail(name, `requires a string 'reason' of at most ${MAX_REASON_LENGTH} characters`);
      }
      return { type: FrameType.GOODBYE, code, reason: value[2] };
    }
  }
}
