import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode } from './codec.js';
import { ProtocolError } from './errors.js';
import { type Frame, FrameType } from './frames.js';
import { clampReason } from './reason.js';
import { MAX_ID_LENGTH, MAX_PAYLOAD_RANGE, MAX_REASON_LENGTH, PROBE_MS_RANGE } from './validate.js';

// A fixed seed keeps runs reproducible; on failure fast-check prints the seed and the path of the
// counterexample. FC_SEED=<n> explores other seeds.
const SEED = Number(process.env.FC_SEED ?? 0x7072_6f62);
const TIMEOUT_MS = 30_000;

const plain = (data: Uint8Array) => new Uint8Array(data);

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid frames

const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const safeUint = fc.maxSafeNat();
// Code points, not UTF-16 units: 64 of them are at most 128 units, and no lone surrogates.
const id = fc.string({ unit: 'binary', minLength: 1, maxLength: MAX_ID_LENGTH / 2 });

/** Application data that survives MessagePack unchanged (no -0, no undefined, no __proto__ key). */
const { data } = fc.letrec((tie) => ({
  data: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double().filter((n) => !Object.is(n, -0)),
    fc.string({ unit: 'binary' }),
    fc.uint8Array({ maxLength: 32 }),
    fc.array(tie('data'), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((key) => key !== '__proto__'),
      tie('data'),
      { maxKeys: 5, noNullPrototype: true },
    ),
  ),
}));

// fc.record may build null-prototype objects; decoded frames are plain objects.
const plainRecord = { noNullPrototype: true } as const;

const frameArbitraries = {
  hello: fc.record(
    {
      type: fc.constant(FrameType.HELLO),
      version: fc.integer({ min: 0, max: 0xffff }),
      auth: data,
      resume: fc.option(
        fc.record({ sessionId: id, token: id, lastSeq: safeUint, sentSeq: safeUint }, plainRecord),
        { nil: null },
      ),
    },
    plainRecord,
  ),
  welcome: fc.record(
    {
      type: fc.constant(FrameType.WELCOME),
      version: fc.integer({ min: 0, max: 0xffff }),
      sessionId: id,
      token: id,
      probeIntervalMs: fc.integer({ min: PROBE_MS_RANGE[0], max: PROBE_MS_RANGE[1] }),
      probeTimeoutMs: fc.integer({ min: PROBE_MS_RANGE[0], max: PROBE_MS_RANGE[1] }),
      maxPayloadBytes: fc.integer({ min: MAX_PAYLOAD_RANGE[0], max: MAX_PAYLOAD_RANGE[1] }),
      resumed: fc.boolean(),
      lastSeq: safeUint,
      sentSeq: safeUint,
    },
    plainRecord,
  ),
  probe: fc.record({ type: fc.constant(FrameType.PROBE), id: uint32 }, plainRecord),
  'probe-answer': fc.record(
    {
      type: fc.constant(FrameType.PROBE_ANSWER),
      id: uint32,
      ack: fc.option(safeUint, { nil: null }),
    },
    plainRecord,
  ),
  message: fc.record(
    {
      type: fc.constant(FrameType.MESSAGE),
      seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      data,
    },
    plainRecord,
  ),
  ack: fc.record({ type: fc.constant(FrameType.ACK), seq: safeUint }, plainRecord),
  goodbye: fc.record(
    {
      type: fc.constant(FrameType.GOODBYE),
      code: fc.integer({ min: 1000, max: 4999 }),
      // Any code points, cut to what a close reason holds (123 UTF-8 bytes).
      reason: fc.string({ unit: 'binary', maxLength: MAX_REASON_LENGTH }).map(clampReason),
    },
    plainRecord,
  ),
} satisfies Record<string, fc.Arbitrary<Frame>>;

const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameArbitraries));

// ---------------------------------------------------------------------------------------------
// Garbage

/** Byte sequences that steer msgpackr into its less travelled paths. */
const nasty = fc.constantFrom(
  [0xc1], // "never used"
  [0xd4, 0x72, 0x00], // record definition (module-level structure table)
  [0xd4, 0x42, 0x05], // BigInt extension
  [0xd4, 0x65], // Error extension
  [0xd4, 0x70, 0x00], // structured-clone pointer
  [0xd6, 0x69, 0, 0, 0, 1], // structured-clone id
  [0xd4, 0x73], // Set
  [0xd4, 0x78], // RegExp
  [0xc7, 0x05, 0x62, 0, 0, 0, 9, 0], // bundled strings
  [0xd6, 0xff, 0, 0, 0, 0], // timestamp
  [0xc6, 0xff, 0xff, 0xff, 0xff], // bin32 of 4 GiB
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 2^32-1
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 of 2^32-1
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
  [0xa9, ...new TextEncoder().encode('__proto__')],
  [0x81, 0xa0],
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
);
const insertion = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => [...bytes]),
  nasty.map((bytes) => [...bytes]),
);

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'insert'; at: number; bytes: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip'), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set'), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate'), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete'), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('insert'), at: fc.nat(), bytes: insertion }),
);

function mutate(frame: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = [...frame];
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case 'flip':
        if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 << m.bit);
        break;
      case 'set':
        if (at < bytes.length) bytes[at] = m.value;
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'delete':
        bytes.splice(at, m.count);
        break;
      case 'insert':
        bytes.splice(at, 0, ...m.bytes);
        break;
    }
  }
  return new Uint8Array(bytes);
}

// ---------------------------------------------------------------------------------------------
// Checks

const FRAME_TYPES: readonly number[] = Object.values(FrameType);

/** Decodes garbage; fails the property unless the outcome is a frame or a ProtocolError. */
function decodeGarbage(bytes: Uint8Array): void {
  let result: unknown;
  try {
    result = decode(bytes);
  } catch (error) {
    if (error instanceof ProtocolError) {
      // Servers send the message as the close reason, which WebSocket caps at 123 bytes.
      expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(123);
      return;
    }
    throw new Error(`decode threw a non-ProtocolError: ${String(error)}`, { cause: error });
  }
  if (typeof result !== 'object' || result === null || !('type' in result)) {
    throw new Error('decode returned something that is not a frame');
  }
  expect(FRAME_TYPES).toContain(result.type);
  expectPlainData(result);
}

/** Fails unless `value` is nil, booleans, numbers, strings, bytes, arrays and plain objects. */
function expectPlainData(value: unknown): void {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (item === null || ['boolean', 'number', 'string'].includes(typeof item)) continue;
    const proto = typeof item === 'object' ? Object.getPrototypeOf(item) : undefined;
    if (proto === Uint8Array.prototype || proto === Buffer.prototype) continue;
    if (proto !== Array.prototype && proto !== Object.prototype) {
      throw new Error(`decode returned a ${typeof item} that is not plain data: ${String(item)}`);
    }
    stack.push(...Object.values(item as object));
  }
}

// Canaries run after every piece of garbage. Each one covers a piece of msgpackr's module-level
// state: the record table (0x40..0x7f are records once one is defined), the map key cache, the
// string and bundled-string readers.
const canaries: [Uint8Array, Frame][] = (
  [
    { type: FrameType.ACK, seq: 64 },
    { type: FrameType.PROBE_ANSWER, id: 0x7f, ack: 0x40 },
    { type: FrameType.MESSAGE, seq: 0x41, data: { __proto_: 1, text: 'hi', n: [0x40, 0x7f] } },
    { type: FrameType.MESSAGE, seq: 2, data: { long: 'x'.repeat(200), k: 'ключ' } },
    {
      type: FrameType.HELLO,
      version: 1,
      auth: null,
      resume: { sessionId: 's1', token: 't0k', lastSeq: 0x50, sentSeq: 0x7f },
    },
  ] satisfies Frame[]
).map((frame) => [plain(encode(frame)), frame]);

function checkCanaries(): void {
  for (const [bytes, frame] of canaries) expect(decode(bytes)).toStrictEqual(frame);
}

/** The same check, cheap enough to run after every piece of garbage: re-encoding must give the same bytes. */
function checkCanariesQuickly(): void {
  for (const [bytes] of canaries) {
    if (!Buffer.from(encode(decode(bytes))).equals(bytes)) checkCanaries();
  }
}

function decodeGarbageThenCanaries(bytes: Uint8Array): void {
  decodeGarbage(bytes);
  checkCanariesQuickly();
}

// ---------------------------------------------------------------------------------------------

describe('round trip', () => {
  for (const [name, arbitrary] of Object.entries(frameArbitraries)) {
    it(
      `${name} frames round-trip and re-encode to the same bytes`,
      () => {
        fc.assert(
          fc.property(arbitrary, (frame: Frame) => {
            const encoded = plain(encode(frame));
            const decoded = decode(encoded);
            expect(decoded).toStrictEqual(frame);
            expect(Buffer.from(encode(decoded)).equals(encoded)).toBe(true);
          }),
          { seed: SEED, numRuns: 1_000 },
        );
      },
      TIMEOUT_MS,
    );
  }
});

describe('decode of hostile input only returns a frame or throws ProtocolError', () => {
  // 100,000 random byte strings in all: 30,000 fully random (mostly stopped by the first-byte
  // check) and 70,000 behind a fixarray header and a frame type, so msgpackr parses them.
  it(
    'random bytes',
    () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodeGarbageThenCanaries), {
        seed: SEED,
        numRuns: 30_000,
      });
    },
    TIMEOUT_MS,
  );

  it(
    'random bytes after a frame header',
    () => {
      const header = fc.tuple(fc.integer({ min: 0x91, max: 0x9f }), fc.integer({ min: 0, max: 8 }));
      fc.assert(
        fc.property(header, fc.uint8Array({ maxLength: 96 }), ([array, type], tail) => {
          decodeGarbageThenCanaries(new Uint8Array([array, type, ...tail]));
        }),
        { seed: SEED, numRuns: 70_000 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'mutated valid frames (bit flips, byte changes, truncation, deletion, insertion)',
    () => {
      fc.assert(
        fc.property(anyFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, ms) => {
          decodeGarbageThenCanaries(mutate(plain(encode(frame)), ms));
        }),
        { seed: SEED, numRuns: 20_000 },
      );
    },
    TIMEOUT_MS,
  );

  it('a record definition in a refused frame does not leak into the next decode', () => {
    // [5, 1, <define record 0 with key "a">] followed by 0x40, which is record 0 in this frame,
    // then an extra byte, so the frame is refused after the definition was read.
    const frame = new Uint8Array([
      0x93, 0x05, 0x01, 0xd4, 0x72, 0x40, 0x91, 0xa1, 0x61, 0x01, 0x00,
    ]);
    expect(() => decode(frame)).toThrow(ProtocolError);
    expect(decode(new Uint8Array([0x92, 0x06, 0x40]))).toStrictEqual({
      type: FrameType.ACK,
      seq: 64,
    });
    checkCanaries();
  });

  const deep: [string, Uint8Array][] = [
    ['100k nested arrays', new Uint8Array(100_000).fill(0x91)],
    [
      '100k nested arrays as message data',
      new Uint8Array([0x93, 0x05, 0x01, ...new Uint8Array(100_000).fill(0x91), 0xc0]),
    ],
    [
      '50k nested maps as message data',
      new Uint8Array([
        0x93,
        0x05,
        0x01,
        ...Array.from({ length: 50_000 }, () => [0x81, 0xa1, 0x61]).flat(),
        0xc0,
      ]),
    ],
    [
      '100k nested arrays as the frame type',
      new Uint8Array([0x91, ...new Uint8Array(100_000).fill(0x91), 0x03]),
    ],
  ];
  it.each(deep)(
    '%s: a stack overflow inside msgpackr becomes a ProtocolError',
    (_name, bytes) => {
      let thrown: unknown;
      try {
        decode(bytes);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ProtocolError);
      expect((thrown as ProtocolError).code).toBe('malformed');
      expect((thrown as ProtocolError).closeCode).toBe(1007);
      checkCanaries();
    },
    TIMEOUT_MS,
  );
});
