import fc from 'fast-check';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decode, encodeMessage, findExtension } from './codec.js';
import { ProtocolError } from './errors.js';
import * as packr from './msgpack.js';
import * as lean from './msgpack-lean.js';
import { ProbeError } from './probe-error.js';

// The browser codec (msgpack-lean.ts) against msgpackr (msgpack.ts), value by value: the same
// bytes or the same error when packing, the same value or the same ProtocolError when unpacking.
// The rest of the protocol suite runs against the browser codec too (vitest project
// `protocol-lean`), so frames, vectors and error messages are covered there.

const SEED = Number(process.env.FC_SEED ?? 0x6c65_616e);
const TIMEOUT_MS = 60_000;

type Packed = { bytes: string } | { error: string };
type Unpacked = { value: unknown } | { error: string };

function packWith(codec: typeof lean, value: unknown): Packed {
  try {
    return { bytes: Buffer.from(codec.pack(value)).toString('hex') };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

function unpackWith(codec: typeof lean, bytes: Uint8Array): Unpacked {
  try {
    // Each decoder gets a copy: msgpackr caches a DataView on the array it reads.
    return { value: codec.unpack(new Uint8Array(bytes)) };
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { error: `${error.code}: ${error.message}` };
  }
}

function expectSamePack(value: unknown): void {
  expect(packWith(lean, value)).toStrictEqual(packWith(packr, value));
}

/** Bytes any Probe decoder sees: extension types never reach it (codec.ts refuses them first). */
function expectSameUnpack(bytes: Uint8Array): void {
  if (findExtension(bytes) >= 0) return;
  expect(unpackWith(lean, bytes)).toStrictEqual(unpackWith(packr, bytes));
}

const bytes = (...values: number[]) => new Uint8Array(values);

// ---------------------------------------------------------------------------------------------
// Values

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}
class Stamped {
  toJSON() {
    return { stamped: true };
  }
}
class TaggedSet extends Set<unknown> {
  toJSON() {
    return ['tagged'];
  }
}
class ErrorWithJson extends Error {
  toJSON() {
    return 'custom';
  }
}
class SubMap extends Map<unknown, unknown> {}
class SubArray extends Array<unknown> {}
class Day extends Date {}
const nullPrototype = Object.assign(Object.create(null), { a: 1, b: [2] });
const inherited = Object.assign(Object.create({ inheritedKey: 1 }), { own: 2 });

/** Values outside the plain forms, each with a rule of its own in msgpackr's pack(). */
const SPECIAL_VALUES: [string, unknown][] = [
  ['a Set', new Set([1, 'two', [3]])],
  ['a Set subclass with toJSON', new TaggedSet([1])],
  ['an Error', new TypeError('bad', { cause: 'why' })],
  ['an Error subclass with toJSON', new ErrorWithJson('x')],
  ['an AggregateError', new AggregateError([new Error('a')], 'many')],
  ['a RegExp', /a+b/giu],
  ['an ArrayBuffer', new Uint8Array([1, 2, 3]).buffer],
  ['a DataView', new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2)],
  ['an Int16Array', new Int16Array([1, -2, 300])],
  ['an Int8Array', new Int8Array([-1, 5])],
  ['a Float64Array', new Float64Array([0.5, Number.NaN])],
  ['a BigInt64Array', new BigInt64Array([-1n])],
  ['a Uint8ClampedArray', new Uint8ClampedArray([255, 0])],
  ['a Uint8Array view into a larger buffer', new Uint8Array([9, 8, 7, 6]).subarray(1, 3)],
  ['a Buffer', Buffer.from('buf')],
  ['a SharedArrayBuffer', new SharedArrayBuffer(4)],
  ['a class instance', new Point(1, 2)],
  ['a class instance with toJSON', new Stamped()],
  ['an object with toJSON returning itself', { toJSON: null, constructor: 1 }],
  ['a Map subclass', new SubMap([['a', 1]])],
  ['an Array subclass', SubArray.from([1, 2])],
  ['a null-prototype object', nullPrototype],
  ['an object with an inherited enumerable key', inherited],
  ['an object with its own hasOwnProperty', { hasOwnProperty: 1, k: 2 }],
  ['a function', () => 1],
  ['a function with toJSON', Object.assign(() => 1, { toJSON: () => 'fn' })],
  ['a boxed number', new Number(5)],
  ['a boxed string', new String('ab')],
  ['a boxed boolean', new Boolean(false)],
  // biome-ignore lint/suspicious/noSparseArray: the hole is what this case is about
  ['a sparse array', [1, , 3]],
  ['undefined', undefined],
  ['a symbol', Symbol('s')],
  ['an object holding a symbol', { s: Symbol('s') }],
  ['a symbol-keyed property (left out)', { [Symbol('k')]: 1, k: 2 }],
  ['a BigInt wider than 64 bits', 2n ** 70n],
  ['a BigInt below -2^63', -(2n ** 63n) - 1n],
  ['an object whose toJSON is not a function', { constructor: 1, toJSON: 1 }],
  ['a Date subclass with toJSON', Object.assign(new Day(0), { toJSON: () => 'day' })],
];

const NUMBERS = [
  0,
  -0,
  1,
  0x1f,
  0x20,
  0x3f,
  0x40,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0xffff_ffff,
  0x1_0000_0000,
  -1,
  -0x20,
  -0x21,
  -0x80,
  -0x81,
  -0x8000,
  -0x8001,
  -0x8000_0000,
  -0x8000_0001,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 64,
  -(2 ** 63),
  0.5,
  -1.5,
  1e300,
  5e-324,
  Number.MAX_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];
const BIGINTS = [
  0n,
  1n,
  -1n,
  2n ** 63n - 1n,
  2n ** 63n,
  2n ** 64n - 1n,
  2n ** 64n,
  -(2n ** 63n),
  -(2n ** 63n) - 1n,
];
// Sizes around every header boundary: fixstr/str 8/16/32, fixarray/array 16/32, fixmap/map 16/32.
const SIZES = [0, 1, 15, 16, 31, 32, 63, 64, 65, 255, 256, 0xffff, 0x10000];

/** Plain and special values, nested; strings may hold lone surrogates. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, undefined, true, false),
    fc.integer(),
    fc.double(),
    fc.constantFrom(...NUMBERS),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.constantFrom(...BIGINTS),
    fc.string({ unit: 'binary', maxLength: 80 }),
    fc.string({ unit: anyUnit, maxLength: 80 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 60, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.int32Array({ maxLength: 8 }),
    fc.constantFrom(...SPECIAL_VALUES.map(([, value]) => value)),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(fc.string({ unit: anyUnit, maxLength: 12 }), tie('value'), {
      maxKeys: 20,
      noNullPrototype: true,
    }),
    fc
      .array(fc.tuple(tie('value'), tie('value')), { maxLength: 18 })
      .map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 18 }).map((items) => new Set(items)),
  ),
}));

describe('packing: the same bytes as msgpackr, or the same error', () => {
  it.each(SPECIAL_VALUES)('%s', (_name, value) => {
    expectSamePack(value);
    expectSamePack([value, { nested: value }]);
  });

  it.each(NUMBERS.map((n) => [Object.is(n, -0) ? '-0' : String(n), n]))('number %s', (_n, n) => {
    expectSamePack(n);
    expectSamePack(-n);
  });

  it.each(BIGINTS.map((n) => [String(n), n]))('bigint %s', (_n, n) => {
    expectSamePack(n);
    expectSamePack(-n);
  });

  it.each(SIZES)('strings, arrays, maps, objects, Sets and bytes of %i', (size) => {
    for (const unit of ['x', 'é', '€', '😀', '\ud800']) expectSamePack(unit.repeat(size));
    expectSamePack(new Array(size).fill(0));
    expectSamePack(new Map(Array.from({ length: size }, (_, i) => [i, i])));
    expectSamePack(Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, i])));
    expectSamePack(new Set(Array.from({ length: size }, (_, i) => i)));
    expectSamePack(new Uint8Array(size));
  });

  it('strings of 64 KiB and more, in any script', () => {
    for (const unit of ['a', 'ж', '中', '🙂']) {
      for (const count of [0x5555, 0x8000, 0x10000, 0x10001, 0x30000]) {
        expectSamePack(unit.repeat(count));
      }
    }
  });

  it('an object of more than 65,535 keys fails with the same error', () => {
    const large = Object.fromEntries(Array.from({ length: 0x10000 }, (_, i) => [`k${i}`, 0]));
    expectSamePack(large);
    expect(packWith(lean, large)).toMatchObject({ error: expect.stringContaining('16-bit') });
  });

  it('a cycle fails with the same error (the stack runs out)', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expectSamePack(cycle);
  });

  it('a toJSON that packs another value meanwhile does not disturb the outer value', () => {
    const value = { a: 'outer', inner: { toJSON: () => ({ packed: lean.pack(['inner', 1]) }) } };
    const reference = {
      a: 'outer',
      inner: { toJSON: () => ({ packed: packr.pack(['inner', 1]) }) },
    };
    expect(packWith(lean, value)).toStrictEqual(packWith(packr, reference));
  });

  it(
    'generated values (nested plain and special values)',
    () => {
      fc.assert(fc.property(anyValue, expectSamePack), { seed: SEED, numRuns: 5_000 });
    },
    TIMEOUT_MS,
  );

  it(
    'fast-check anything(), with every option',
    () => {
      const anything = fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withMap: true,
        withNullPrototype: true,
        withObjectString: true,
        withSet: true,
        withSparseArray: true,
        withTypedArray: true,
        stringUnit: 'binary',
      });
      fc.assert(fc.property(anything, expectSamePack), { seed: SEED, numRuns: 3_000 });
    },
    TIMEOUT_MS,
  );

  it('a Date becomes an extension Probe refuses, with the same message', () => {
    for (const date of [
      new Date(0),
      new Date(1.5),
      new Date(-1),
      new Date(Number.NaN),
      new Day(),
    ]) {
      const packed = lean.pack([1, date]);
      expect(findExtension(packed)).toBe(2);
      expect(findExtension(packr.pack([1, date]))).toBe(2);
      expect(packed[3]).toBe(0xff); // timestamp, type -1
    }
    // Through the codec (whichever this project uses): the same ProbeError either way.
    expect(() => encodeMessage(1, { at: new Date() })).toThrow(ProbeError);
    expect(() => encodeMessage(1, { at: new Date() })).toThrow(
      'message holds a Date (MessagePack timestamp); send dates as numbers or ISO strings',
    );
  });
});

// ---------------------------------------------------------------------------------------------

/** Bytes that read as MessagePack headers more often than uniform random bytes do. */
const token = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(
    0x00,
    0x7f,
    0x81,
    0x82,
    0x8f,
    0x91,
    0x93,
    0x9f,
    0xa0,
    0xa3,
    0xa9,
    0xbf,
    0xc0,
    0xc2,
    0xc3,
    0xc4,
    0xc5,
    0xc6,
    0xca,
    0xcb,
    0xcc,
    0xcd,
    0xce,
    0xcf,
    0xd0,
    0xd1,
    0xd2,
    0xd3,
    0xd9,
    0xda,
    0xdb,
    0xdc,
    0xdd,
    0xde,
    0xdf,
    0xe0,
    0xff,
  ),
);
/** Bytes that make valid and invalid UTF-8: ASCII, lead bytes, continuation bytes, a BOM. */
const utf8ish = fc.array(
  fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0x80, max: 0xbf }),
    fc.integer({ min: 0xc0, max: 0xff }),
    fc.constantFrom(0xef, 0xbb, 0xbf, 0xed, 0xa0, 0xe0, 0xf0, 0xf4, 0x90),
  ),
  { maxLength: 200 },
);

function strHeader(length: number): number[] {
  if (length < 0x20) return [0xa0 | length];
  if (length < 0x100) return [0xd9, length];
  return [0xda, length >> 8, length & 0xff];
}

describe('unpacking: the same value as msgpackr, or the same ProtocolError', () => {
  it(
    'bytes msgpackr wrote for generated values',
    () => {
      fc.assert(
        fc.property(anyValue, (value) => {
          let packed: Uint8Array;
          try {
            packed = packr.pack(value);
          } catch {
            return;
          }
          expectSameUnpack(packed);
        }),
        { seed: SEED, numRuns: 5_000 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'those bytes cut short, or with a byte changed, removed or added',
    () => {
      fc.assert(
        fc.property(anyValue, fc.nat(), token, fc.nat(3), (value, where, byte, how) => {
          let packed: Uint8Array;
          try {
            packed = packr.pack(value);
          } catch {
            return;
          }
          const list = [...packed];
          const at = where % (list.length + 1);
          if (how === 0) list.length = at;
          else if (how === 1) list[at] = byte;
          else if (how === 2) list.splice(at, 1);
          else list.splice(at, 0, byte);
          expectSameUnpack(new Uint8Array(list));
        }),
        { seed: SEED, numRuns: 20_000 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'random bytes',
    () => {
      fc.assert(
        fc.property(fc.array(token, { maxLength: 48 }), (list) => {
          expectSameUnpack(new Uint8Array(list));
        }),
        { seed: SEED, numRuns: 50_000 },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'numbers from any 1, 2, 4 or 8 bytes (float32 and 64-bit integers included)',
    () => {
      const marker = fc.constantFrom(
        [0xca, 4],
        [0xcb, 8],
        [0xcc, 1],
        [0xcd, 2],
        [0xce, 4],
        [0xcf, 8],
        [0xd0, 1],
        [0xd1, 2],
        [0xd2, 4],
        [0xd3, 8],
      );
      fc.assert(
        fc.property(marker, fc.uint8Array({ minLength: 8, maxLength: 8 }), ([m, n], tail) => {
          expectSameUnpack(bytes(m as number, ...tail.subarray(0, n)));
        }),
        { seed: SEED, numRuns: 20_000 },
      );
    },
    TIMEOUT_MS,
  );

  // Without native acceleration (none in browsers, and msgpackr-extract is optional in Node),
  // msgpackr decodes strings in JavaScript; the native extractor may replace invalid UTF-8
  // differently, so compare with the JavaScript reader only.
  describe.skipIf(isNativeAccelerationEnabled)('strings of any bytes, valid UTF-8 or not', () => {
    it(
      'as values (fixstr, str 8, str 16) and map keys, in short and long frames',
      () => {
        fc.assert(
          fc.property(utf8ish, fc.boolean(), (text, long) => {
            const str = [...strHeader(text.length), ...text];
            // Frames of 180 bytes and more read map keys another way in msgpackr.
            const padding = long ? [0xd9, 200, ...new Array(200).fill(0x78)] : [];
            expectSameUnpack(new Uint8Array(str));
            expectSameUnpack(new Uint8Array([0x92, ...padding, ...str]));
            expectSameUnpack(new Uint8Array([0x82, 0xa1, 0x70, ...padding, ...str, 0xc0]));
          }),
          { seed: SEED, numRuns: 20_000 },
        );
      },
      TIMEOUT_MS,
    );

    it('a byte order mark is kept in strings of up to 64 bytes and dropped after', () => {
      for (const length of [3, 10, 64, 65, 200]) {
        const text = [0xef, 0xbb, 0xbf, ...new Array(length - 3).fill(0x61)];
        const str = new Uint8Array([...strHeader(length), ...text]);
        expectSameUnpack(str);
        expect((lean.unpack(str) as string).charCodeAt(0) === 0xfeff).toBe(length <= 64);
      }
    });
  });

  it('map keys that are not strings: numbers, booleans and nil become strings, others fail', () => {
    const keys: unknown[] = [1, -1, 1.5, 2 ** 40, Number.NaN, true, false, null, '__proto__'];
    for (const key of [...keys, [1], new Uint8Array(1), { a: 1 }, new Map(), 2n ** 40n]) {
      expectSameUnpack(packr.pack(new Map([[key, 'v']])));
    }
    expect(lean.unpack(packr.pack(new Map<unknown, string>([[null, 'v']])))).toStrictEqual({
      null: 'v',
    });
    expect(unpackWith(lean, packr.pack(new Map([[[1], 'v']])))).toStrictEqual({
      error: 'malformed: frame is not valid MessagePack',
    });
  });

  it('__proto__ keys in every string format are renamed, not assigned', () => {
    const key = [...new TextEncoder().encode('__proto__')];
    const value = [0x81, 0xa1, 0x78, 0xc3];
    for (const header of [[0xa9], [0xd9, 9], [0xda, 0, 9], [0xdb, 0, 0, 0, 9]]) {
      for (const map of [[0x81], [0xde, 0, 1], [0xdf, 0, 0, 0, 1]]) {
        const input = new Uint8Array([...map, ...header, ...key, ...value]);
        expectSameUnpack(input);
        const decoded = lean.unpack(input) as Record<string, unknown>;
        expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
        expect(decoded.__proto_).toStrictEqual({ x: true });
      }
    }
  });

  it('trailing bytes, truncation and oversized lengths', () => {
    const cases = [
      bytes(0x91, 0x01, 0x02),
      bytes(0xc0, 0xc0),
      bytes(0x92, 0x01),
      bytes(0xd9),
      bytes(0xd9, 0x05, 0x61),
      bytes(0xc6, 0xff, 0xff, 0xff, 0xff),
      bytes(0xdd, 0xff, 0xff, 0xff, 0xff),
      bytes(0xdf, 0xff, 0xff, 0xff, 0xff),
      bytes(0xdb, 0xff, 0xff, 0xff, 0xff),
      bytes(0xdc, 0x00, 0x03, 0xdc, 0x00, 0x03, 0xc0),
      bytes(0xcb, 0x00),
      bytes(),
    ];
    for (const input of cases) expectSameUnpack(input);
    expect(unpackWith(lean, bytes(0x91, 0x01, 0x02))).toStrictEqual({
      error: 'trailing-bytes: frame has bytes after its MessagePack value',
    });
  });

  it('deep nesting: the same value, or both malformed when the stack runs out', () => {
    for (const depth of [100, 1_000, 3_000]) {
      expectSameUnpack(new Uint8Array([...new Array(depth).fill(0x91), 0xc0]));
      expectSameUnpack(
        new Uint8Array([...Array.from({ length: depth }, () => [0x81, 0xa1, 0x61]).flat(), 0xc0]),
      );
    }
    expect(unpackWith(lean, new Uint8Array(200_000).fill(0x91))).toStrictEqual({
      error: 'malformed: frame is not valid MessagePack',
    });
  });

  it('bin is a view into the frame, as msgpackr returns it', () => {
    const frame = bytes(0x92, 0xc4, 0x02, 0x07, 0x08, 0xc0);
    const [bin] = lean.unpack(frame) as [Uint8Array];
    expect(bin).toStrictEqual(bytes(7, 8));
    expect(bin.buffer).toBe(frame.buffer);
    const fromBuffer = lean.unpack(Buffer.from(frame)) as [Uint8Array];
    expect(Buffer.isBuffer(fromBuffer[0])).toBe(
      Buffer.isBuffer((packr.unpack(Buffer.from(frame)) as [Uint8Array])[0]),
    );
  });
});

describe('the codec of this project', () => {
  // The protocol-lean project runs every protocol test with msgpack-lean.ts behind codec.ts.
  it('decodes and refuses frames as PROTOCOL.md section 2 says', () => {
    expect(decode(bytes(0x92, 0x06, 0x05))).toStrictEqual({ type: 6, seq: 5 });
    expect(() => decode(bytes(0x92, 0x06, 0x05, 0x00))).toThrow(
      expect.objectContaining({ code: 'trailing-bytes' }),
    );
    expect(() => decode(bytes(0x93, 0x05, 0x01, 0x81, 0x91, 0x01, 0x02))).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
  });
});
