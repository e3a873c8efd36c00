import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

const options = { initialDelayMs: 100, maxDelayMs: 5000, factor: 2 };

describe('backoffDelay (full jitter)', () => {
  it('is random() × min(max, initial × factor^(attempt−1))', () => {
    expect(backoffDelay(1, options, () => 0.5)).toBe(50);
    expect(backoffDelay(2, options, () => 0.5)).toBe(100);
    expect(backoffDelay(4, options, () => 0.5)).toBe(400);
    expect(backoffDelay(30, options, () => 0.5)).toBe(2500);
    expect(backoffDelay(30, options, () => 0.999)).toBeLessThan(5000);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });

  it('spreads a crowd: 1,000 clients on their 5th attempt do not retry together', () => {
    const delays = Array.from({ length: 1000 }, () => backoffDelay(5, options));
    const buckets = new Set(delays.map((d) => Math.floor(d / 100)));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(1600);
    expect(buckets.size).toBeGreaterThanOrEqual(14); // nearly every 100 ms bucket of 0–1600 used
  });
});
