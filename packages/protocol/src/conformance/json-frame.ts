import { type Frame, FrameType } from '../frames.js';

/** A JSON value as the vector files hold it. */
export type Json =
  | null
  | boolean
  | number
  | string
  | readonly Json[]
  | { readonly [key: string]: Json };

export type FrameName =
  | 'hello'
  | 'welcome'
  | 'probe'
  | 'probe-answer'
  | 'message'
  | 'ack'
  | 'goodbye';

/**
 * A frame as the vector files write it: `type` by name and the fields by the names of
 * PROTOCOL.md section 3. Binary data is `{"$bin": "<hex>"}`. Optional trailing fields the frame
 * does not carry are left out: `ack` of a PROBE_ANSWER without one, and `event`, `call` and
 * `reply` of a MESSAGE (a plain message has none of them, a named event `event`, a request
 * `event` and `call`, a reply all three).
 */
export interface JsonFrame {
  readonly type: FrameName;
  readonly [field: string]: Json;
}

export const FRAME_TYPES: Readonly<Record<FrameName, FrameType>> = {
  hello: FrameType.HELLO,
  welcome: FrameType.WELCOME,
  probe: FrameType.PROBE,
  'probe-answer': FrameType.PROBE_ANSWER,
  message: FrameType.MESSAGE,
  ack: FrameType.ACK,
  goodbye: FrameType.GOODBYE,
};

/** The fields of each frame type after the type, in wire order (frames.json `frameTypes`). */
export const FRAME_FIELDS: Readonly<Record<FrameName, readonly string[]>> = {
  hello: ['version', 'auth', 'resume'],
  welcome: [
    'version',
    'sessionId',
    'token',
    'probeIntervalMs',
    'probeTimeoutMs',
    'maxPayloadBytes',
    'resumed',
    'lastSeq',
    'sentSeq',
  ],
  probe: ['id'],
  'probe-answer': ['id', 'ack'],
  message: ['seq', 'data', 'event', 'call', 'reply'],
  ack: ['seq'],
  goodbye: ['code', 'reason'],
};

/**
 * The trailing fields of each frame type that may be left out, in wire order (frames.json
 * `optional`). A frame that carries one of them carries every one before it.
 */
export const FRAME_OPTIONAL: Readonly<Record<FrameName, readonly string[]>> = {
  hello: [],
  welcome: [],
  probe: [],
  'probe-answer': ['ack'],
  message: ['event', 'call', 'reply'],
  ack: [],
  goodbye: [],
};

/** The elements of HELLO's `resume`, in wire order. */
export const RESUME_FIELDS = ['sessionId', 'token', 'lastSeq', 'sentSeq'] as const;

const NAMES = new Map(Object.entries(FRAME_TYPES).map(([name, type]) => [type, name as FrameName]));

export function frameName(type: number): FrameName | undefined {
  return NAMES.get(type as FrameType);
}

export function isFrameName(name: unknown): name is FrameName {
  return typeof name === 'string' && Object.hasOwn(FRAME_TYPES, name);
}

/**
 * The typed frame a JSON description stands for, ready for `encode()`.
 * @throws {TypeError} when the description names an unknown type or lacks or adds a field.
 */
export function jsonToFrame(json: JsonFrame): Frame {
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    values[key] = key === 'type' ? value : fromJson(value);
  }
  return buildFrame(values);
}

/**
 * A typed frame from `type` (by name) and field values that are already what `encode()`
 * takes (bytes as Uint8Array).
 * @throws {TypeError} when `type` is unknown or a field is missing or extra.
 */
export function buildFrame(values: Readonly<Record<string, unknown>>): Frame {
  const name = values.type;
  if (!isFrameName(name)) throw new TypeError(`unknown frame type ${String(name)}`);
  const fields = FRAME_FIELDS[name];
  const optional = FRAME_OPTIONAL[name];
  const given = Object.keys(values).filter((key) => key !== 'type');
  const missing = fields.filter((field) => !given.includes(field) && !optional.includes(field));
  const extra = given.filter((field) => !fields.includes(field));
  // Optional fields are trailing: one that is given needs every optional field before it.
  const present = optional.filter((field) => given.includes(field)).length;
  const gap = optional.slice(0, present).filter((field) => !given.includes(field));
  if (missing.length > 0 || extra.length > 0 || gap.length > 0) {
    const problems = [
      ...missing.map((m) => `missing '${m}'`),
      ...extra.map((e) => `extra '${e}'`),
      ...gap.map((g) => `missing '${g}' (before a later optional field)`),
    ];
    throw new TypeError(`${name}: ${problems.join(', ')}`);
  }
  const resume = values.resume;
  if (name === 'hello' && resume !== null && !sameKeys(resume, RESUME_FIELDS)) {
    throw new TypeError(`hello: 'resume' must be null or have exactly ${RESUME_FIELDS.join(', ')}`);
  }
  const frame: Record<string, unknown> = { type: FRAME_TYPES[name] };
  for (const field of fields) {
    // A MESSAGE's optional fields stay absent, as a decoder leaves them; a PROBE_ANSWER's ack
    // is null when absent.
    if (name === 'message' && optional.includes(field) && !given.includes(field)) continue;
    frame[field] = values[field] ?? null;
  }
  return frame as unknown as Frame;
}

function sameKeys(value: unknown, keys: readonly string[]): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => own.includes(key));
}

/** The JSON description of a decoded frame (the inverse of {@link jsonToFrame}). */
export function frameToJson(frame: Frame): JsonFrame {
  const name = frameName(frame.type);
  if (name === undefined) throw new TypeError(`unknown frame type ${frame.type}`);
  const json: Record<string, Json> = { type: name };
  const values = frame as unknown as Record<string, unknown>;
  const optional = FRAME_OPTIONAL[name];
  for (const field of FRAME_FIELDS[name]) {
    // Left out of the bytes: absent (a MESSAGE's event, call, reply) or null (an ack).
    const absent =
      values[field] === undefined || (name === 'probe-answer' && values[field] === null);
    if (optional.includes(field) && absent) continue;
    json[field] = toJson(values[field]);
  }
  return json as JsonFrame;
}

/** A JSON value with `{"$bin": "<hex>"}` turned into bytes, at any depth. */
export function fromJson(value: Json): unknown {
  if (Array.isArray(value)) return value.map(fromJson);
  if (value === null || typeof value !== 'object') return value;
  const object = value as { readonly [key: string]: Json };
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === '$bin') return hexToBytes(String(object.$bin));
  return Object.fromEntries(keys.map((key) => [key, fromJson(object[key] as Json)]));
}

/** A decoded value as JSON: bytes become `{"$bin": "<hex>"}`. */
export function toJson(value: unknown): Json {
  if (value instanceof Uint8Array) return { $bin: bytesToHex(value) };
  if (Array.isArray(value)) return value.map(toJson);
  if (value === null || typeof value !== 'object') {
    if (value === undefined) return null;
    return value as Json;
  }
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toJson(item)]));
}

/** Hex as the vectors write it: whitespace between groups is ignored. */
export function hexToBytes(hex: string): Uint8Array {
  const digits = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new TypeError(`not hex: ${hex}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
