import { CloseCode } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from './backoff.js';
import { ProbeClient } from './client.js';
import type { DisconnectInfo } from './events.js';
import { FakeSocket } from './fake-socket.js';
import { RECONNECT_DEFAULTS } from './options.js';

function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    return a / 2 ** 31;
  };
}

const reconnect = {
  initialDelayMs: 100,
  maxDelayMs: 2000,
  factor: 2,
  minUptimeMs: 1000,
  connectTimeoutMs: 500,
};

function client(extra: ConstructorParameters<typeof ProbeClient>[1] = {}) {
  const c = new ProbeClient('ws://test/', {
    WebSocket: FakeSocket,
    random: seeded(42),
    reconnect,
    ...extra,
  });
  const disconnects: DisconnectInfo[] = [];
  c.on('disconnect', (info) => disconnects.push(info));
  c.on('error', () => {});
  return { c, disconnects };
}

const last = () => FakeSocket.created[FakeSocket.created.length - 1]!;

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.created = [];
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('reconnect policy', () => {
  it('waits the full-jitter delay of each attempt before retrying', async () => {
    const { c, disconnects } = client();
    const expected = seeded(42);
    await vi.advanceTimersByTimeAsync(0);
    for (let attempt = 1; attempt <= 6; attempt++) {
      last().drop();
      const delay = backoffDelay(attempt, reconnect, expected);
      expect(disconnects[attempt - 1]).toMatchObject({ attempt, delayMs: delay, code: 1006 });
      const before = FakeSocket.created.length;
      if (delay > 0) {
        await vi.advanceTimersByTimeAsync(delay - 1);
        expect(FakeSocket.created.length).toBe(before);
      }
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeSocket.created.length).toBe(before + 1);
    }
    c.close();
  });

  it('resets the attempt counter only after a connection stayed up for minUptimeMs', async () => {
    const { c, disconnects } = client();
    await vi.advanceTimersByTimeAsync(0);
    const cycle = async (uptimeMs: number) => {
      last().welcome();
      await vi.advanceTimersByTimeAsync(uptimeMs);
      last().drop();
      await vi.advanceTimersByTimeAsync(disconnects[disconnects.length - 1]!.delayMs);
    };
    await cycle(10);
    await cycle(10);
    await cycle(10);
    expect(disconnects.map((d) => d.attempt)).toEqual([1, 2, 3]);
    await cycle(1000); // stayed up long enough: back to the first attempt's delay
    expect(disconnects.map((d) => d.attempt)).toEqual([1, 2, 3, 1]);
    c.close();
  });

  it('keeps growing the backoff after a long-lived connection when the retries fail', async () => {
    const { c, disconnects } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    await vi.advanceTimersByTimeAsync(1500); // past minUptimeMs (1000), before the watchdog (2050)
    for (let i = 0; i < 4; i++) {
      last().drop();
      await vi.advanceTimersByTimeAsync(disconnects[disconnects.length - 1]!.delayMs);
    }
    expect(disconnects.map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
    c.close();
  });

  describe('after a storm of faults', () => {
    const policy = { ...reconnect, minUptimeMs: 5000, settleMs: 500 };

    /** Welcomes the latest socket, keeps it up for `uptimeMs`, drops it, waits out the backoff. */
    async function cycle(disconnects: DisconnectInfo[], uptimeMs: number, resumed: boolean) {
      last().welcome('s.1', resumed, { probeIntervalMs: 60_000 }); // no watchdog in the way
      await vi.advanceTimersByTimeAsync(uptimeMs);
      last().drop();
      await vi.advanceTimersByTimeAsync(disconnects[disconnects.length - 1]!.delayMs);
    }

    it('a resumed connection that stays up settleMs resets the attempt counter', async () => {
      const { c, disconnects } = client({ reconnect: policy });
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 6; i++) await cycle(disconnects, 10, i > 0);
      expect(disconnects.map((d) => d.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
      await cycle(disconnects, 499, true); // not quite settled
      expect(disconnects[6]!.attempt).toBe(7);
      await cycle(disconnects, 500, true);
      expect(disconnects[7]).toMatchObject({
        attempt: 1,
        delayMs: expect.any(Number),
      });
      expect(disconnects[7]!.delayMs).toBeLessThan(policy.initialDelayMs);
      c.close();
    });

    it('a new session must stay up minUptimeMs: a server that welcomes and drops is not hammered', async () => {
      const { c, disconnects } = client({ reconnect: policy });
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 4; i++) await cycle(disconnects, 500, false);
      expect(disconnects.map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
      await cycle(disconnects, 5000, false);
      expect(disconnects[4]!.attempt).toBe(1);
      c.close();
    });

    it('by default no retry waits longer than 10 s', async () => {
      expect(RECONNECT_DEFAULTS).toMatchObject({ maxDelayMs: 10_000, settleMs: 1000 });
      const c = new ProbeClient('ws://test/', { WebSocket: FakeSocket, random: () => 0.9999 });
      const delays: number[] = [];
      c.on('disconnect', (info) => delays.push(info.delayMs));
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 12; i++) {
        last().drop();
        await vi.advanceTimersByTimeAsync(delays[i]!);
      }
      expect(Math.max(...delays)).toBe(9999);
      expect(delays.slice(-4)).toEqual([9999, 9999, 9999, 9999]);
      c.close();
    });

    it("the browser's online event cuts a pending backoff short", async () => {
      const listeners = new Map<string, () => void>();
      vi.stubGlobal('addEventListener', (type: string, listener: () => void) =>
        listeners.set(type, listener),
      );
      vi.stubGlobal('removeEventListener', (type: string) => listeners.delete(type));
      const { c, disconnects } = client({ random: () => 0.9 });
      await vi.advanceTimersByTimeAsync(0);
      for (let i = 0; i < 4; i++) {
        last().drop();
        await vi.advanceTimersByTimeAsync(disconnects[i]!.delayMs);
      }
      last().drop();
      expect(disconnects[4]!.delayMs).toBeGreaterThan(1000);
      const before = FakeSocket.created.length;
      listeners.get('online')!();
      await vi.advanceTimersByTimeAsync(0);
      expect(FakeSocket.created).toHaveLength(before + 1);
      c.close();
      expect(listeners.has('online')).toBe(false);
    });
  });

  it('stops at a final close code', async () => {
    const { c } = client();
    const closes: { code: number }[] = [];
    c.on('close', (info) => closes.push(info));
    await vi.advanceTimersByTimeAsync(0);
    last().drop(CloseCode.UNAUTHORIZED, 'no');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.state).toBe('closed');
    expect(closes).toEqual([expect.objectContaining({ code: CloseCode.UNAUTHORIZED })]);
    expect(FakeSocket.created).toHaveLength(1);
  });

  it('gives up after maxAttempts', async () => {
    const { c } = client({ reconnect: { ...reconnect, maxAttempts: 3 } });
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 10 && c.state !== 'closed'; i++) {
      last().drop();
      await vi.advanceTimersByTimeAsync(5000);
    }
    expect(c.state).toBe('closed');
    expect(FakeSocket.created).toHaveLength(4);
  });

  it('abandons an attempt that is not welcomed within connectTimeoutMs', async () => {
    const { c, disconnects } = client();
    await vi.advanceTimersByTimeAsync(499);
    expect(disconnects).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(disconnects[0]).toMatchObject({ code: CloseCode.CONNECT_TIMEOUT });
    c.close();
  });

  it('declares a silent server dead after probe interval + timeout + slack', async () => {
    const { c, disconnects } = client({ watchdogSlackMs: 50 });
    await vi.advanceTimersByTimeAsync(0);
    last().welcome(); // 1000 ms interval + 1000 ms timeout
    await vi.advanceTimersByTimeAsync(2049);
    expect(disconnects).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(disconnects[0]).toMatchObject({ code: CloseCode.PROBE_TIMEOUT });
    c.close();
  });

  it('refuses impossible options with a sentence naming the option', () => {
    expect(() => new ProbeClient('ws://x/', { reconnect: { factor: 0.5 } })).toThrow(
      /reconnect.factor/,
    );
    expect(
      () => new ProbeClient('ws://x/', { reconnect: { initialDelayMs: 10, maxDelayMs: 5 } }),
    ).toThrow(/initialDelayMs/);
    expect(() => new ProbeClient('ws://x/', { maxQueueMessages: 0 })).toThrow(/maxQueueMessages/);
  });
});
