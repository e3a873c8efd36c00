import type { UntypedSchema } from '@probe/protocol';
import {
  CloseCode,
  decode,
  decodeMessageData,
  type Frame,
  FrameType,
  type GoodbyeFrame,
  type HelloFrame,
} from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbeClient } from './client.js';
import type { CloseInfo, DisconnectInfo } from './events.js';
import { FakeSocket } from './fake-socket.js';

const last = () => FakeSocket.created[FakeSocket.created.length - 1]!;
const framesOf = (socket: FakeSocket): Frame[] => socket.sent.map((bytes) => decode(bytes));
const messagesOf = (socket: FakeSocket) =>
  socket.sent.filter((b) => decode(b).type === FrameType.MESSAGE).map(decodeMessageData);

function client(extra: ConstructorParameters<typeof ProbeClient>[1] = {}) {
  const c = new ProbeClient('ws://test/', {
    WebSocket: FakeSocket,
    random: () => 0.5,
    reconnect: { initialDelayMs: 100, maxDelayMs: 100 },
    ...extra,
  });
  const closes: CloseInfo<unknown>[] = [];
  const disconnects: DisconnectInfo[] = [];
  c.on('close', (info) => closes.push(info));
  c.on('disconnect', (info) => disconnects.push(info));
  c.on('error', () => {});
  return { c, closes, disconnects };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.created = [];
});
afterEach(() => vi.useRealTimers());

describe('send() size limit', () => {
  it("before the first welcome, refuses a message over the client's own maxPayloadBytes", () => {
    const { c } = client({ maxPayloadBytes: 100, autoConnect: false });
    expect(() => c.send('x'.repeat(200))).toThrow(
      expect.objectContaining({ name: 'ProbeError', code: 'too-large' }),
    );
    expect(c.buffered.messages).toBe(0);
    c.send('x'.repeat(50));
    expect(c.buffered.messages).toBe(1);
  });

  it("after the welcome, refuses a message over the server's maxPayloadBytes at once", async () => {
    const { c } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome('s.1', false, { maxPayloadBytes: 1000 });
    expect(() => c.send(new Uint8Array(2000))).toThrow(
      /2\d{3} bytes exceeds the server's limit of 1000/,
    );
    expect(c.buffered.messages).toBe(0);
    expect(c.state).toBe('open');
    // The server's limit holds while reconnecting too.
    last().drop();
    expect(() => c.send(new Uint8Array(2000))).toThrow(
      expect.objectContaining({ code: 'too-large' }),
    );
    c.close();
  });
});

describe('autoConnect: false', () => {
  it('queues send() until connect(), then sends in order after the hello', async () => {
    const { c } = client({ autoConnect: false });
    expect(c.state).toBe('closed');
    expect(c.send({ n: 1 })).toBe(true);
    c.send({ n: 2 });
    expect(FakeSocket.created).toHaveLength(0);
    c.connect();
    expect(c.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    expect(framesOf(last()).map((f) => f.type)).toEqual([
      FrameType.HELLO,
      FrameType.MESSAGE,
      FrameType.MESSAGE,
    ]);
    expect(messagesOf(last())).toEqual([{ n: 1 }, { n: 2 }]);
    c.close();
  });

  it('close() before connect() reports the queued messages as unsent; send() then throws', () => {
    const { c, closes } = client({ autoConnect: false });
    c.send('a');
    c.close();
    expect(closes).toEqual([
      {
        code: 1000,
        reason: 'client closed',
        unconfirmed: ['a'],
        unconfirmedEvents: [],
        unsent: ['a'],
      },
    ]);
    expect(() => c.send('b')).toThrow(expect.objectContaining({ code: 'client-closed' }));
    c.connect();
    expect(() => c.send('c')).not.toThrow();
    c.close();
  });
});

describe('giving up', () => {
  it("'close' lists named events apart, with their names; pending requests reject", async () => {
    const { c: plain, closes } = client();
    const c = plain as unknown as ProbeClient<unknown, unknown, UntypedSchema>;
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send('a');
    c.emit('chat:post', { text: 'b' });
    const pending = c.emitWithAck('ask', 1).catch((error: unknown) => error);
    last().drop();
    c.send('c'); // offline: queued only
    c.emit('typing', true, { volatile: true }); // dropped at once: never listed
    c.close();
    expect(closes).toEqual([
      {
        code: 1000,
        reason: 'client closed',
        unconfirmed: ['a', 'c'],
        unconfirmedEvents: [{ event: 'chat:post', payload: { text: 'b' } }],
        unsent: ['c'],
      },
    ]);
    expect(await pending).toMatchObject({ code: 'client-closed' });
  });

  it("'close' reports every unacknowledged message; unsent is the part never written", async () => {
    const { c, closes } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send('a');
    c.send('b');
    c.send('c');
    last().receive({ type: FrameType.ACK, seq: 1 });
    last().drop();
    c.send('d'); // offline: queued only
    c.close();
    expect(closes).toEqual([
      {
        code: 1000,
        reason: 'client closed',
        unconfirmed: ['b', 'c', 'd'],
        unconfirmedEvents: [],
        unsent: ['d'],
      },
    ]);
  });

  it('after maxAttempts, messages written to a connection that died are reported too', async () => {
    const { c, closes } = client({
      reconnect: { initialDelayMs: 10, maxDelayMs: 10, maxAttempts: 1 },
    });
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.send('written');
    last().drop();
    c.send('queued');
    await vi.advanceTimersByTimeAsync(10);
    last().drop();
    expect(closes).toEqual([
      {
        code: 1006,
        reason: 'gave up after 1 attempts: ',
        unconfirmed: ['written', 'queued'],
        unconfirmedEvents: [],
        unsent: ['queued'],
      },
    ]);
  });
});

describe('close(code, reason)', () => {
  it('sends the code and reason in the goodbye and the close frame, and reports them', async () => {
    const { c, closes } = client();
    await vi.advanceTimersByTimeAsync(0);
    const socket = last();
    socket.welcome();
    c.close(4321, 'logged out');
    const goodbye = framesOf(socket).find((f) => f.type === FrameType.GOODBYE) as GoodbyeFrame;
    expect(goodbye).toMatchObject({ code: 4321, reason: 'logged out' });
    expect(socket.closedWith).toEqual({ code: 4321, reason: 'logged out' });
    expect(closes[0]).toMatchObject({ code: 4321, reason: 'logged out' });
  });

  it.each([
    [999, 'x'],
    [1001, 'x'],
    [2999, 'x'],
    [5000, 'x'],
    [3000.5, 'x'],
    [Number.NaN, 'x'],
    [1000, 'é'.repeat(62)], // 124 UTF-8 bytes
  ])('refuses close(%s, …) with invalid-argument and stays as it was', async (code, reason) => {
    const { c } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    expect(() => c.close(code, reason)).toThrow(
      expect.objectContaining({ name: 'ProbeError', code: 'invalid-argument' }),
    );
    expect(c.state).toBe('open');
    c.close(1000, 'é'.repeat(61)); // 122 bytes: fine
    expect(c.state).toBe('closed');
  });
});

describe('suspend() and connect()', () => {
  it('drops the connection without a goodbye, queues, and resumes on connect()', async () => {
    const { c, disconnects } = client();
    const states: string[] = [];
    c.on('state', (state) => states.push(state));
    await vi.advanceTimersByTimeAsync(0);
    const first = last();
    first.welcome();
    c.send('before');
    c.suspend();
    expect(c.state).toBe('suspended');
    expect(first.closedWith).toMatchObject({ code: 1000 });
    expect(framesOf(first).some((f) => f.type === FrameType.GOODBYE)).toBe(false);
    c.send('while suspended');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.created).toHaveLength(1); // no retry, no watchdog
    expect(disconnects).toEqual([]);
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    const second = last();
    second.welcome('s.1', true, { lastSeq: 1 });
    const hello = framesOf(second)[0] as HelloFrame;
    expect(hello.resume).toMatchObject({ sessionId: 's.1', lastSeq: 0, sentSeq: 2 });
    expect(messagesOf(second)).toEqual(['while suspended']);
    expect(states).toEqual(['open', 'suspended', 'reconnecting', 'open']);
    c.close();
  });

  it('cancels a pending retry; connect() before any welcome starts as connecting', async () => {
    const { c } = client();
    await vi.advanceTimersByTimeAsync(0);
    last().drop();
    c.suspend();
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.created).toHaveLength(1);
    c.connect();
    expect(c.state).toBe('connecting');
    c.suspend();
    c.suspend();
    expect(c.state).toBe('suspended');
    c.close();
    expect(c.state).toBe('closed');
    c.suspend();
    expect(c.state).toBe('closed');
  });

  it('a session the server dropped meanwhile is reported lost on connect()', async () => {
    const { c } = client();
    const lost: unknown[] = [];
    c.on('session-lost', (info) => lost.push(info));
    await vi.advanceTimersByTimeAsync(0);
    last().welcome();
    c.suspend();
    c.send('late');
    c.connect();
    await vi.advanceTimersByTimeAsync(0);
    last().drop(CloseCode.SESSION_EXPIRED);
    expect(lost).toEqual([
      expect.objectContaining({ reason: 'session-expired', unconfirmed: ['late'] }),
    ]);
    c.close();
  });
});
