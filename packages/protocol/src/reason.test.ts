import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clampReason } from './reason.js';
import { validate } from './validate.js';

const bytes = (s: string) => new TextEncoder().encode(s).length;

describe('clampReason', () => {
  it('keeps short reasons as they are', () => {
    expect(clampReason('bye')).toBe('bye');
  });
  it('cuts long ASCII reasons to 123 bytes', () => {
    expect(clampReason('a'.repeat(500))).toBe('a'.repeat(123));
  });
  it('cuts multi-byte reasons to at most 123 bytes without splitting a character', () => {
    const out = clampReason('ü'.repeat(100) + '😀'.repeat(50));
    expect(bytes(out)).toBeLessThanOrEqual(123);
    expect(out).toBe('ü'.repeat(61));
    const emoji = clampReason('😀'.repeat(60));
    expect(bytes(emoji)).toBeLessThanOrEqual(123);
    expect([...emoji].every((c) => c === '😀')).toBe(true);
  });
});

describe('clampReason output', () => {
  const accepted = (reason: string) => validate([7, 1000, reason]);

  it('is accepted in a GOODBYE, which counts UTF-8 bytes', () => {
    // 246 bytes of é: a server once let this through as 123 "characters".
    const out = clampReason('é'.repeat(123));
    expect(out).toBe('é'.repeat(61));
    expect(accepted(out)).toMatchObject({ reason: out });
  });

  it('is the longest whole-character prefix of at most 123 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), fc.string(), (text, ascii) => {
        for (const reason of [text, ascii + text, `${ascii}\ud800${text}`]) {
          const out = clampReason(reason);
          expect(reason.startsWith(out)).toBe(true);
          expect(bytes(out)).toBeLessThanOrEqual(123);
          // Never half of a surrogate pair.
          expect(
            out.at(-1)?.match(/[\ud800-\udbff]/) &&
              /[\udc00-\udfff]/.test(reason.charAt(out.length)),
          ).toBeFalsy();
          const next = String.fromCodePoint(reason.codePointAt(out.length) ?? 0);
          if (out.length < reason.length) expect(bytes(out + next)).toBeGreaterThan(123);
          expect(accepted(out)).toMatchObject({ reason: out });
        }
      }),
      { seed: 0x7265_6173, numRuns: 2_000 },
    );
  });

  it('is the same string when it already fits', () => {
    const reason = 'ok 😀';
    expect(clampReason(reason)).toBe(reason);
  });
});
