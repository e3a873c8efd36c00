import { describe, expect, it } from 'vitest';
import { resolveServerOptions } from './options.js';

describe('server options', () => {
  it.each([
    [{ probeIntervalMs: 5 }, /probeIntervalMs must be a whole number of ms from 10 to 3600000/],
    [{ probeTimeoutMs: 2 ** 32 }, /probeTimeoutMs must be a whole number/],
    [{ probeIntervalMs: 10.5 }, /probeIntervalMs/],
    [{ maxPayloadBytes: 2 ** 31 }, /maxPayloadBytes must be a whole number from 64 to 2147483647/],
    [{ maxSessions: -1 }, /maxSessions must be a number ≥ 0/],
    [{ handoverTimeoutMs: Number.NaN }, /handoverTimeoutMs/],
  ])('refuses %o with a sentence naming the option', (options, message) => {
    expect(() => resolveServerOptions(options)).toThrow(message);
  });

  it('a client would refuse nothing it accepts: the defaults and the bounds pass', () => {
    expect(() =>
      resolveServerOptions({ probeIntervalMs: 3_600_000, probeTimeoutMs: 10 }),
    ).not.toThrow();
    const resolved = resolveServerOptions({});
    expect(resolved).toMatchObject({
      allowOrigin: 'same-origin',
      keepHeaders: [],
      maxSessions: 100_000,
      maxResumesPerMinute: 30,
      maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
      maxSessionLifetimeMs: Number.POSITIVE_INFINITY,
      handoverTimeoutMs: 2000,
    });
  });
});
