import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { decodeUtf8, encodeUtf8Into } from './utf8.js';

// The fallback must give exactly what the Encoding standard's TextEncoder / TextDecoder give,
// which this runtime has: checked on random text (lone surrogates included) and random bytes.
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const keepBom = new TextDecoder('utf-8', { ignoreBOM: true });
const RUNS = { numRuns: 2000 };

function encode(text: string): Uint8Array {
  const target = new Uint8Array(text.length * 3);
  return target.subarray(0, encodeUtf8Into(text, target));
}

describe('UTF-8 fallback', () => {
  it('encodes as TextEncoder does, lone surrogates as U+FFFD', () => {
    const unit = fc.integer({ min: 0, max: 0xffff }).map((u) => String.fromCharCode(u));
    const text = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.array(unit).map((a) => a.join('')),
    );
    fc.assert(
      fc.property(text, (t) => {
        expect(encode(t)).toEqual(encoder.encode(t));
      }),
      RUNS,
    );
    for (const t of ['', 'a', 'é', '€', '😀', '\ud800', 'a\udc00b', '\ud800\ud800\udc00']) {
      expect(encode(t)).toEqual(encoder.encode(t));
    }
  });

  it('decodes as TextDecoder does, invalid bytes as U+FFFD, with and without the BOM', () => {
    const tricky = fc.constantFrom(
      0x80,
      0xbf,
      0xc0,
      0xc2,
      0xe0,
      0xed,
      0xef,
      0xf0,
      0xf4,
      0xf5,
      0xff,
    );
    const bytes = fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), tricky), { maxLength: 40 });
    const withBom = bytes.map((b) => (b.length % 2 ? [0xef, 0xbb, 0xbf, ...b] : b));
    fc.assert(
      fc.property(withBom, (b) => {
        const input = new Uint8Array(b);
        expect(decodeUtf8(input, false)).toBe(decoder.decode(input));
        expect(decodeUtf8(input, true)).toBe(keepBom.decode(input));
      }),
      RUNS,
    );
    const long = encoder.encode('ü'.repeat(5000));
    expect(decodeUtf8(long, false)).toBe(decoder.decode(long));
  });
});

describe('the lean codec without TextEncoder and TextDecoder', () => {
  it('writes and reads strings exactly as with them', async () => {
    const withThem = await import('./msgpack-lean.js');
    vi.stubGlobal('TextEncoder', undefined);
    vi.stubGlobal('TextDecoder', undefined);
    vi.resetModules();
    try {
      const without = await import('./msgpack-lean.js');
      const values = [
        'hi',
        '\ufeffbom kept when short',
        `\ufeff${'long, bom dropped '.repeat(5)}`,
        { clé: ['😀', 'a\ud800b', 'x'.repeat(300)] },
      ];
      for (const value of values) {
        const bytes = withThem.pack(value);
        expect(without.pack(value)).toEqual(bytes);
        expect(without.unpack(bytes)).toEqual(withThem.unpack(bytes));
      }
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});
