import { encode, type Frame, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbeClient } from './client.js';
import { FakeSocket } from './fake-socket.js';

/** As React Native's WebSocket: binaryType takes only 'blob' or 'arraybuffer'. */
class ReactNativeSocket extends FakeSocket {
  constructor(url: string) {
    super(url);
    let binaryType = 'blob';
    Object.defineProperty(this, 'binaryType', {
      get: () => binaryType,
      set: (value: string) => {
        if (value !== 'blob' && value !== 'arraybuffer') {
          throw new Error("binaryType must be either 'blob' or 'arraybuffer'");
        }
        binaryType = value;
      },
    });
  }
}

/** A WebSocket that hands over Blobs whatever binaryType says. */
class BlobSocket extends FakeSocket {
  override receive(frame: Frame): void {
    this.onmessage?.({ data: new Blob([encode(frame) as Uint8Array<ArrayBuffer>]) });
  }
}

const last = () => FakeSocket.created[FakeSocket.created.length - 1]!;
const welcome = {
  type: FrameType.WELCOME,
  version: PROTOCOL_VERSION,
  sessionId: 's.1',
  token: 't',
  probeIntervalMs: 1000,
  probeTimeoutMs: 1000,
  maxPayloadBytes: 1 << 20,
  resumed: false,
  lastSeq: 0,
  sentSeq: 0,
} as const;

beforeEach(() => {
  FakeSocket.created = [];
});
afterEach(() => vi.useRealTimers());

describe('WebSocket implementations', () => {
  it("React Native: falls back to 'arraybuffer' when 'nodebuffer' throws, and opens", async () => {
    vi.useFakeTimers();
    const client = new ProbeClient('ws://test/', { WebSocket: ReactNativeSocket });
    client.on('error', () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(last().binaryType).toBe('arraybuffer');
    last().welcome();
    expect(client.state).toBe('open');
    client.close();
  });

  it('a message that arrives as a Blob is read and delivered, in order with the rest', async () => {
    const client = new ProbeClient('ws://test/', { WebSocket: BlobSocket });
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const socket = last();
    socket.onopen?.({});
    socket.receive(welcome);
    // A large Blob first, so a reader that did not wait its turn would deliver out of order.
    socket.receive({ type: FrameType.MESSAGE, seq: 1, data: 'x'.repeat(100_000) });
    for (let seq = 2; seq <= 20; seq++) socket.receive({ type: FrameType.MESSAGE, seq, data: seq });
    await vi.waitFor(() => expect(received).toHaveLength(20));
    expect(received.slice(1)).toEqual(Array.from({ length: 19 }, (_, i) => i + 2));
    expect(client.state).toBe('open');
    client.close();
  });

  it('a Blob read after the socket was released is dropped', async () => {
    const client = new ProbeClient('ws://test/', { WebSocket: BlobSocket });
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    await new Promise((resolve) => setTimeout(resolve, 0));
    const socket = last();
    socket.onopen?.({});
    socket.receive(welcome);
    await vi.waitFor(() => expect(client.state).toBe('open'));
    socket.receive({ type: FrameType.MESSAGE, seq: 1, data: 'late' });
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(received).toEqual([]);
  });
});
