import { ProtocolError } from './errors.js';
import { type ClientFrame, type Frame, FrameType, type ServerFrame } from './frames.js';

/** Longest session id or resume token a server will look at. */
export const MAX_ID_LENGTH = 128;
/** Longest event name in UTF-8 bytes. */
export const MAX_EVENT_LENGTH = 128;
/**
 * Names a named event may not have: the events Probe's own client and session objects emit,
 * and the EventEmitter's own. Refused by both senders and receivers.
 */
export const RESERVED_EVENTS: readonly string[] = [
  'close',
  'disconnect',
  'drain',
  'error',
  'message',
  'newListener',
  'open',
  'removeListener',
  'request',
  'resume',
  'session-lost',
  'state',
  'suspend',
];

/** Longest goodbye reason in UTF-8 bytes: the WebSocket close reason limit (RFC 6455 5.5.1). */
export const MAX_REASON_LENGTH = 123;
/**
 * The probe timing a WELCOME may announce, in ms. A client arms timers from these values, and
 * setTimeout fires at once for anything above 2^31−1 ms, so an unchecked value could make it
 * spin instead of wait.
 */
export const PROBE_MS_RANGE = [10, 3_600_000] as const;
/** The `maxPayloadBytes` a WELCOME may announce (up to the largest 32-bit signed integer). */
export const MAX_PAYLOAD_RANGE = [64, 0x7fff_ffff] as const;

/** Bytes of `text` in UTF-8; a lone surrogate counts 3, as it is sent as U+FFFD. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit < 0xdc00 && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 2; // a pair: 2 units, 4 bytes
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit < 0xe000;
}

/** Reads one field: returns the value to keep, or throws `invalid-frame` naming the field. */
type Read = (value: unknown, field: string, frame: string) => unknown;
type Field = readonly [name: string, read: Read];

/**
 * One frame type: its name in error messages, its elements after the type (in order), and how
 * many trailing ones may be left out (they read as null).
 */
type Spec = readonly [name: string, fields: readonly Field[], optional?: number];

function fail(frame: string, what: string): never {
  throw new ProtocolError('invalid-frame', `'${frame}' ${what}`);
}

// The readers are built once at load; /* @__PURE__ */ lets a bundler drop those only the other
// direction needs (a browser client never reads a HELLO).
const int =
  (min: number, max: number): Read =>
  (value, field, frame) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? value
      : fail(frame, `requires an integer '${field}' from ${min} to ${max}`);

const string =
  (min: number, max: number): Read =>
  (value, field, frame) =>
    typeof value === 'string' && value.length >= min && value.length <= max
      ? value
      : fail(
          frame,
          `requires a string '${field}' of ${min ? `${min} to` : 'at most'} ${max} characters`,
        );

/** A string of at most `max` UTF-8 bytes (a WebSocket close reason). */
const utf8 =
  (max: number): Read =>
  (value, field, frame) =>
    // A UTF-16 unit is 1 to 3 bytes: the length alone often decides.
    typeof value === 'string' &&
    value.length <= max &&
    (value.length * 3 <= max || utf8Length(value) <= max)
      ? value
      : fail(frame, `requires a string '${field}' of at most ${max} UTF-8 bytes`);

const boolean: Read = (value, field, frame) =>
  typeof value === 'boolean' ? value : fail(frame, `requires a boolean '${field}'`);

const any: Read = (value) => value;

const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const SEQ = /* @__PURE__ */ int(0, MAX_SEQ);
const UINT32 = /* @__PURE__ */ int(0, 0xffff_ffff);
const VERSION = /* @__PURE__ */ int(0, 0xffff);
const ID = /* @__PURE__ */ string(1, MAX_ID_LENGTH);
const PROBE_MS = /* @__PURE__ */ int(...PROBE_MS_RANGE);

/** Copies `fields` from `values` (starting at `from`) into `into`; missing trailing ones are null. */
function read(
  frame: string,
  fields: readonly Field[],
  values: readonly unknown[],
  from: number,
  into: Record<string, unknown>,
  prefix = '',
): Record<string, unknown> {
  for (let i = 0; i < fields.length; i++) {
    const [name, check] = fields[i]!;
    into[name] = from + i < values.length ? check(values[from + i], prefix + name, frame) : null;
  }
  return into;
}

const RESUME: readonly Field[] = [
  ['sessionId', ID],
  ['token', ID],
  ['lastSeq', SEQ],
  ['sentSeq', SEQ],
];

const resume: Read = (value, _field, frame) => {
  if (value === null) return null;
  if (!Array.isArray(value) || value.length !== RESUME.length) {
    fail(frame, "requires 'resume' to be null or [sessionId, token, lastSeq, sentSeq]");
  }
  return read(frame, RESUME, value, 0, {}, 'resume.');
};

// One spec per frame type, in PROTOCOL.md's order of elements.
const HELLO: Spec = [
  'hello',
  [
    ['version', VERSION],
    ['auth', (value) => value ?? null],
    ['resume', resume],
  ],
];
const WELCOME: Spec = [
  'welcome',
  [
    ['version', VERSION],
    ['sessionId', ID],
    ['token', ID],
    ['probeIntervalMs', PROBE_MS],
    ['probeTimeoutMs', PROBE_MS],
    ['maxPayloadBytes', /* @__PURE__ */ int(...MAX_PAYLOAD_RANGE)],
    ['resumed', boolean],
    ['lastSeq', SEQ],
    ['sentSeq', SEQ],
  ],
];
const PROBE: Spec = ['probe', [['id', UINT32]]];
const PROBE_ANSWER: Spec = [
  'probe-answer',
  [
    ['id', UINT32],
    ['ack', SEQ],
  ],
  1,
];
const event: Read = (value, field, frame) =>
  value === null
    ? null
    : typeof value === 'string' && value.length > 0 && utf8Length(value) <= MAX_EVENT_LENGTH
      ? RESERVED_EVENTS.includes(value)
        ? fail(frame, `'${field}' names an event reserved by Probe ('${value}')`)
        : value
      : fail(
          frame,
          `requires '${field}' to be null or a string of 1 to ${MAX_EVENT_LENGTH} UTF-8 bytes`,
        );
const CALL = /* @__PURE__ */ int(1, MAX_SEQ);
const REPLY = /* @__PURE__ */ int(1, 2);

const MESSAGE: Spec = [
  'message',
  [
    // 0 marks a volatile message: not numbered, not acknowledged, never replayed.
    ['seq', SEQ],
    ['data', any],
    ['event', event],
    ['call', CALL],
    ['reply', REPLY],
  ],
  3,
];

/**
 * MESSAGE, the frame of every application message, has its own reader: the fields a plain
 * message leaves out stay absent (rather than null), and requests and replies have rules
 * between fields.
 */
function message(values: readonly unknown[]): Record<string, unknown> {
  const [name, fields] = MESSAGE;
  const frame: Record<string, unknown> = { type: FrameType.MESSAGE };
  for (let i = 0; i < values.length - 1; i++) {
    const [field, check] = fields[i]!;
    frame[field] = check(values[i + 1], field, name);
  }
  if (frame.call !== undefined && frame.seq === 0) {
    fail(name, 'cannot be volatile (seq 0) and a request or reply');
  }
  if (frame.reply !== undefined && frame.event !== null) {
    fail(name, "that is a reply must have a null 'event'");
  }
  return frame;
}
const ACK: Spec = ['ack', [['seq', SEQ]]];
const GOODBYE: Spec = [
  'goodbye',
  [
    ['code', /* @__PURE__ */ int(1000, 4999)],
    ['reason', /* @__PURE__ */ utf8(MAX_REASON_LENGTH)],
  ],
];

type Specs = Readonly<Record<number, Spec>>;

// Keyed by FrameType value. Number literals rather than `[FrameType.WELCOME]`, so that a bundler
// can tell the tables are side-effect free and leave out the ones a peer never uses; `satisfies`
// checks the keys against the frame types of each direction.
const FROM_SERVER = {
  2: WELCOME,
  3: PROBE,
  5: MESSAGE,
  6: ACK,
  7: GOODBYE,
} satisfies Record<ServerFrame['type'], Spec>;
const FROM_CLIENT = {
  1: HELLO,
  4: PROBE_ANSWER,
  5: MESSAGE,
  6: ACK,
  7: GOODBYE,
} satisfies Record<ClientFrame['type'], Spec>;
const EITHER = {
  1: HELLO,
  2: WELCOME,
  3: PROBE,
  4: PROBE_ANSWER,
  5: MESSAGE,
  6: ACK,
  7: GOODBYE,
} satisfies Record<FrameType, Spec>;

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

function check(value: unknown, specs: Specs, sender?: string): Frame {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ProtocolError('invalid-frame', 'a frame must be a non-empty MessagePack array');
  }
  const type = value[0];
  const spec = typeof type === 'number' ? specs[type] : undefined;
  if (spec === undefined) {
    throw (Object.values(FrameType) as unknown[]).includes(type)
      ? new ProtocolError('unexpected-frame', `frame type ${type} is not sent by ${sender}s`)
      : new ProtocolError('unknown-frame-type', `unknown frame type ${describeType(type)}`);
  }
  const [name, fields, optional = 0] = spec;
  const max = fields.length + 1;
  const min = max - optional;
  if (value.length < min || value.length > max) {
    fail(name, `must have ${min === max ? min : `${min} to ${max}`} elements, got ${value.length}`);
  }
  return (spec === MESSAGE
    ? message(value)
    : read(name, fields, value, 1, { type })) as unknown as Frame;
}

/**
 * Checks a decoded MessagePack value and returns the typed frame it holds, whichever way it was
 * sent (for tools and tests; peers use {@link validateFromServer} / {@link validateFromClient}).
 * @throws {ProtocolError} `unknown-frame-type` or `invalid-frame`, with a sentence naming the field.
 */
export function validate(value: unknown): Frame {
  return check(value, EITHER);
}

/**
 * As {@link validate}, for what a client receives: a frame only clients send (HELLO,
 * PROBE_ANSWER) is refused as `unexpected-frame`.
 */
export function validateFromServer(value: unknown): ServerFrame {
  return check(value, FROM_SERVER, 'server') as ServerFrame;
}

/**
 * As {@link validate}, for what a server receives: a frame only servers send (WELCOME, PROBE)
 * is refused as `unexpected-frame`.
 */
export function validateFromClient(value: unknown): ClientFrame {
  return check(value, FROM_CLIENT, 'client') as ClientFrame;
}
