import { CloseCode, FrameType } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbeClient } from './client.js';
import type { ClientEvents } from './events.js';
import { FakeSocket } from './fake-socket.js';

type Event = Exclude<keyof ClientEvents<unknown, unknown>, 'error'>;

const last = () => FakeSocket.created[FakeSocket.created.length - 1]!;

function client(extra: ConstructorParameters<typeof ProbeClient>[1] = {}) {
  return new ProbeClient('ws://test/', {
    WebSocket: FakeSocket,
    random: () => 0,
    reconnect: { initialDelayMs: 10, maxDelayMs: 10 },
    ...extra,
  });
}

/** Makes the client emit `event` once (at least), driving it through a FakeSocket. */
const TRIGGERS: Record<Event, (c: ProbeClient) => Promise<void> | void> = {
  state: () => last().welcome(),
  open: () => last().welcome(),
  message: () => {
    last().welcome();
    last().receive({ type: FrameType.MESSAGE, seq: 1, data: 'hi' });
  },
  resume: async () => {
    last().welcome();
    last().drop();
    await vi.advanceTimersByTimeAsync(10);
    last().welcome('s.1', true);
  },
  'session-lost': async () => {
    last().welcome();
    last().drop(CloseCode.SESSION_EXPIRED);
    await vi.advanceTimersByTimeAsync(10);
    last().welcome('s.2');
  },
  drain: (c) => {
    last().welcome();
    c.send('x'.repeat(100));
    last().receive({ type: FrameType.ACK, seq: 1 });
  },
  disconnect: () => {
    last().welcome();
    last().drop();
  },
  close: (c) => c.close(),
};

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.created = [];
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('application callbacks', () => {
  for (const [event, trigger] of Object.entries(TRIGGERS) as [Event, typeof TRIGGERS.state][]) {
    it(`a '${event}' handler that throws is reported to 'error'; the client carries on`, async () => {
      const c = client({ highWaterMarkBytes: 50 });
      const errors: unknown[] = [];
      c.on('error', (error) => errors.push(error));
      const boom = new Error(`from ${event}`);
      c.on(event, () => {
        throw boom;
      });
      await vi.advanceTimersByTimeAsync(0);
      await trigger(c);
      expect(errors).toContain(boom);
      // The bookkeeping around the emit finished: the client still works.
      if (event !== 'close') {
        expect(c.state).not.toBe('closed');
        expect(() => c.send('after')).not.toThrow();
      }
      c.close();
    });
  }

  for (const event of ['disconnect', 'session-lost', 'state'] as const) {
    it(`a '${event}' handler may close or suspend the client: no retry follows`, async () => {
      for (const stop of ['close', 'suspend'] as const) {
        FakeSocket.created = [];
        const c = client();
        await vi.advanceTimersByTimeAsync(0);
        last().welcome();
        c.on(event, () => c[stop]());
        last().drop(CloseCode.SESSION_EXPIRED);
        await vi.advanceTimersByTimeAsync(60_000);
        expect(FakeSocket.created).toHaveLength(1);
        expect(c.state).toBe(stop === 'close' ? 'closed' : 'suspended');
      }
    });
  }

  it('logs to console.error when there is no error listener', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const c = client();
    const boom = new Error('state handler');
    c.on('state', () => {
      throw boom;
    });
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    expect(log).toHaveBeenCalledWith('[probe] client error:', boom);
    expect(c.state).toBe('open');
    c.close();
  });

  it('an error listener that throws is logged, not reported again', async () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const c = client();
    const fromError = new Error('error handler');
    const onError = vi.fn(() => {
      throw fromError;
    });
    c.on('error', onError);
    c.on('open', () => {
      throw new Error('open handler');
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(() => last().welcome()).not.toThrow();
    expect(onError).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith('[probe] client error:', fromError);
    expect(c.state).toBe('open');
    c.close();
  });
});
