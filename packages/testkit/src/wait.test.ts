import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { once, sleep, waitFor } from './wait.js';

describe('wait helpers', () => {
  it('waitFor resolves with the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : null), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('waitFor gives up, with the last failure as cause', async () => {
    let calls = 0;
    const error = await waitFor(
      () => {
        calls++;
        throw new Error('not yet');
      },
      { timeoutMs: 50, intervalMs: 5, message: 'the thing' },
    ).catch((e: Error) => e);
    expect(error.message).toBe('waitFor: the thing not met within 50 ms');
    expect((error.cause as Error).message).toBe('not yet');
    expect(calls).toBeGreaterThan(1);
    expect(calls).toBeLessThanOrEqual(11);
  });

  it('sleep waits at least the given time', async () => {
    const start = performance.now();
    await sleep(30);
    expect(performance.now() - start).toBeGreaterThanOrEqual(29);
  });

  it('once resolves with the event arguments and detaches', async () => {
    const emitter = new EventEmitter();
    const next = once<[number, string]>(emitter, 'tick');
    emitter.emit('tick', 1, 'a');
    expect(await next).toEqual([1, 'a']);
    expect(emitter.listenerCount('tick')).toBe(0);
  });

  it('once rejects on timeout and detaches', async () => {
    const emitter = new EventEmitter();
    await expect(once(emitter, 'never', 20)).rejects.toThrow("once: no 'never' event within 20 ms");
    expect(emitter.listenerCount('never')).toBe(0);
  });
});
