import { CloseCode } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from './backoff.js';
import { RECONNECT_DEFAULTS } from './options.js';
import { RetryPolicy } from './retry.js';

const options = { ...RECONNECT_DEFAULTS, maxAttempts: 20 };
const half = () => 0.5;

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('RetryPolicy', () => {
  it('grows the full-jitter delay per failed attempt, capped at maxDelayMs', () => {
    const policy = new RetryPolicy(options, half);
    const delays = Array.from({ length: 8 }, () => policy.next(CloseCode.ABNORMAL));
    expect(delays).toEqual(Array.from({ length: 8 }, (_, i) => backoffDelay(i + 1, options, half)));
    expect(delays.at(-1)).toBe(5000); // 0.5 × the 10 s cap
  });

  it('a resumed connection proves itself after settleMs, a new session after minUptimeMs', () => {
    const policy = new RetryPolicy(options, half);
    for (let i = 0; i < 5; i++) policy.next(CloseCode.ABNORMAL);
    policy.welcomed(true);
    vi.advanceTimersByTime(options.settleMs);
    policy.next(CloseCode.ABNORMAL);
    expect(policy.attempt).toBe(1);

    for (let i = 0; i < 5; i++) policy.next(CloseCode.ABNORMAL);
    policy.welcomed(false);
    vi.advanceTimersByTime(options.settleMs);
    policy.next(CloseCode.ABNORMAL);
    expect(policy.attempt).toBe(7);
    policy.welcomed(false);
    vi.advanceTimersByTime(options.minUptimeMs);
    policy.next(CloseCode.ABNORMAL);
    expect(policy.attempt).toBe(1);
  });

  it('a failed attempt after a proven connection does not reset the counter again', () => {
    const policy = new RetryPolicy(options, half);
    policy.welcomed(true);
    vi.advanceTimersByTime(options.settleMs);
    policy.next(CloseCode.ABNORMAL);
    vi.advanceTimersByTime(60_000);
    policy.next(CloseCode.ABNORMAL);
    expect(policy.attempt).toBe(2);
  });

  it('gives up after maxAttempts, and after the 6th resync within 60 s', () => {
    const limited = new RetryPolicy({ ...options, maxAttempts: 2 }, half);
    expect([limited.next(1006), limited.next(1006), limited.next(1006)]).toEqual([
      expect.any(Number),
      expect.any(Number),
      'gave up after 2 attempts',
    ]);
    const policy = new RetryPolicy(options, half);
    const results = Array.from({ length: 6 }, () => {
      vi.advanceTimersByTime(1000);
      return policy.next(CloseCode.RESYNC);
    });
    expect(results.slice(0, 5).every((r) => typeof r === 'number')).toBe(true);
    expect(results[5]).toBe('gave up after 5 resyncs within 60 s');
    vi.advanceTimersByTime(60_000);
    expect(typeof policy.next(CloseCode.RESYNC)).toBe('number');
  });
});
