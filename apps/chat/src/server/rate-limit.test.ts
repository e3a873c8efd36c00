import { describe, expect, it } from 'vitest';
import { checkRateLimit, TokenBucket } from './rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at the given rate up to the burst again', () => {
    let now = 0;
    const bucket = new TokenBucket({ perSecond: 10, burst: 3 }, () => now);
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
    now += 50;
    expect(bucket.take()).toBe(false);
    now += 50;
    expect(bucket.take()).toBe(true);
    expect(bucket.take()).toBe(false);
    now += 60_000;
    expect([1, 2, 3, 4].map(() => bucket.take())).toEqual([true, true, true, false]);
  });

  it('refuses limits that make no sense', () => {
    expect(() => checkRateLimit({ perSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => checkRateLimit({ perSecond: Number.NaN, burst: 1 })).toThrow(/perSecond/);
    expect(() => checkRateLimit({ perSecond: 1, burst: 0 })).toThrow(/burst/);
    expect(checkRateLimit({ perSecond: 0.5, burst: 1 })).toEqual({ perSecond: 0.5, burst: 1 });
  });
});
