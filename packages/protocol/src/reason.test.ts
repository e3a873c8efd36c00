import { describe, expect, it } from 'vitest';
import { clampReason } from './reason.js';

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
