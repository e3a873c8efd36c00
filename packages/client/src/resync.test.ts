import { CloseCode, decode, FrameType, type HelloFrame } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbeClient } from './client.js';
import type { CloseInfo, DisconnectInfo } from './events.js';
import { FakeSocket } from './fake-socket.js';

const last = () => FakeSocket.created[FakeSocket.created.length - 1]!;

function client() {
  const c = new ProbeClient('ws://test/', {
    WebSocket: FakeSocket,
    random: () => 0.5,
    reconnect: { initialDelayMs: 100, maxDelayMs: 100 },
  });
  const disconnects: DisconnectInfo[] = [];
  const closes: CloseInfo<unknown>[] = [];
  const errors: unknown[] = [];
  c.on('disconnect', (info) => disconnects.push(info));
  c.on('close', (info) => closes.push(info));
  c.on('error', (error) => errors.push(error));
  return { c, disconnects, closes, errors };
}

/** The resume request of the hello the socket carried first. */
function helloOf(socket: FakeSocket): HelloFrame['resume'] {
  return (decode(socket.sent[0]!) as HelloFrame).resume;
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.created = [];
});
afterEach(() => vi.useRealTimers());

describe('sequence gaps on a live connection', () => {
  it('a skipped message closes the connection with 4004 and resumes from the last one delivered', async () => {
    const { c, disconnects, errors } = client();
    const received: unknown[] = [];
    c.on('message', (data) => received.push(data));
    await vi.advanceTimersByTimeAsync(0);
    const first = last();
    first.welcome();
    first.receive({ type: FrameType.MESSAGE, seq: 1, data: 'one' });
    first.receive({ type: FrameType.MESSAGE, seq: 3, data: 'three' });
    expect(first.closedWith).toMatchObject({ code: CloseCode.RESYNC });
    expect(disconnects).toEqual([expect.objectContaining({ code: CloseCode.RESYNC, attempt: 1 })]);
    expect(c.state).toBe('reconnecting');
    expect(errors).toEqual([]); // healed, not an error
    await vi.advanceTimersByTimeAsync(50);
    const second = last();
    expect(second).not.toBe(first);
    second.onopen?.({});
    expect(helloOf(second)).toMatchObject({ sessionId: 's.1', lastSeq: 1, sentSeq: 0 });
    second.welcome('s.1', true, { sentSeq: 3 });
    second.receive({ type: FrameType.MESSAGE, seq: 2, data: 'two' });
    second.receive({ type: FrameType.MESSAGE, seq: 3, data: 'three' });
    expect(received).toEqual(['one', 'two', 'three']);
    c.close();
  });

  it('an ack of a message never sent is a resync too', async () => {
    const { c, disconnects } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send('a');
    last().receive({ type: FrameType.ACK, seq: 2 });
    expect(last().closedWith).toMatchObject({ code: CloseCode.RESYNC });
    expect(disconnects[0]).toMatchObject({ code: CloseCode.RESYNC });
    expect(c.buffered.messages).toBe(1); // kept for the replay
    c.close();
  });

  it('gives up after 5 resyncs within 60 s and reports every unacknowledged message', async () => {
    const { c, disconnects, closes } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send({ n: 1 }); // written, never acknowledged
    for (let gap = 1; gap <= 6; gap++) {
      if (gap > 1) {
        await vi.advanceTimersByTimeAsync(1000);
        last().welcome('s.1', true);
      }
      last().receive({ type: FrameType.MESSAGE, seq: 5, data: 'gap' });
    }
    expect(disconnects).toHaveLength(5);
    expect(c.state).toBe('closed');
    expect(closes).toEqual([
      {
        code: CloseCode.RESYNC,
        reason: expect.stringMatching(/^gave up after 5 resyncs within 60 s: message 5 arrived/),
        unconfirmed: [{ n: 1 }],
        unconfirmedEvents: [],
        unsent: [],
      },
    ]);
  });

  it('keeps resyncing when the gaps are spread over more than 60 s', async () => {
    const { c, disconnects } = client();
    await vi.advanceTimersByTimeAsync(0);
    const quiet = { probeIntervalMs: 60_000 }; // no watchdog in the way
    last().welcome('s.1', false, quiet);
    for (let gap = 1; gap <= 8; gap++) {
      if (gap > 1) {
        await vi.advanceTimersByTimeAsync(100);
        last().welcome('s.1', true, quiet);
        await vi.advanceTimersByTimeAsync(13_000);
      }
      last().receive({ type: FrameType.MESSAGE, seq: 5, data: 'gap' });
    }
    expect(disconnects.map((d) => d.code)).toEqual(Array(8).fill(CloseCode.RESYNC));
    expect(c.state).toBe('reconnecting');
    c.close();
  });

  it('a server that resyncs us (close code 4004) counts towards the same bound', async () => {
    const { c, disconnects, closes } = client();
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 6 && c.state !== 'closed'; i++) {
      last().welcome('s.1', i > 0);
      last().drop(CloseCode.RESYNC, 'message 9 arrived, expected 7');
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(disconnects).toHaveLength(5);
    expect(closes[0]).toMatchObject({ code: CloseCode.RESYNC });
  });
});

describe('resume checks', () => {
  it('a welcome that claims more messages than were sent stops the client (bad-sequence)', async () => {
    const { c, closes, errors } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send('a');
    last().drop();
    await vi.advanceTimersByTimeAsync(100);
    last().welcome('s.1', true, { lastSeq: 2 });
    expect(errors).toEqual([expect.objectContaining({ code: 'bad-sequence' })]);
    expect(closes).toEqual([
      expect.objectContaining({ code: CloseCode.PROTOCOL_ERROR, unconfirmed: ['a'] }),
    ]);
  });

  it('a welcome that forgets messages already delivered stops the client', async () => {
    const { c, closes } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    last().receive({ type: FrameType.MESSAGE, seq: 1, data: 'one' });
    last().drop();
    await vi.advanceTimersByTimeAsync(100);
    last().welcome('s.1', true, { sentSeq: 0 });
    expect(c.state).toBe('closed');
    expect(closes[0]).toMatchObject({ code: CloseCode.PROTOCOL_ERROR });
  });
});
