// React Native's WebSocket only takes binaryType 'blob' or 'arraybuffer' and throws on anything
// else, and has no terminate(). The doubles below wrap `ws` to behave that way over real sockets.

import type { WebSocketLike } from '@probe/client';
import type { Session } from '@probe/server';
import { once, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Harness, startHarness, waitForState } from './harness.js';
import { Duplex } from './streams.js';

type Handler<E> = ((event: E) => void) | null;

class ReactNativeWebSocket implements WebSocketLike {
  onopen: Handler<unknown> = null;
  onmessage: Handler<{ data: unknown }> = null;
  onclose: Handler<{ code: number; reason: string }> = null;
  onerror: Handler<unknown> = null;
  /** Hand over Blobs whatever binaryType says (an implementation that ignores it). */
  static alwaysBlobs = false;
  readonly #ws: WebSocket;
  #binaryType = 'blob';

  constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.#ws.binaryType = 'arraybuffer';
    this.#ws.onopen = () => this.onopen?.({});
    this.#ws.onmessage = ({ data }) =>
      this.onmessage?.({
        data:
          this.#binaryType === 'blob' || ReactNativeWebSocket.alwaysBlobs
            ? new Blob([data as ArrayBuffer])
            : data,
      });
    this.#ws.onclose = ({ code, reason }) => this.onclose?.({ code, reason });
    this.#ws.onerror = () => this.onerror?.({});
  }

  get binaryType(): string {
    return this.#binaryType;
  }

  set binaryType(value: string) {
    if (value !== 'blob' && value !== 'arraybuffer') {
      throw new Error("binaryType must be either 'blob' or 'arraybuffer'");
    }
    this.#binaryType = value;
  }

  get readyState(): number {
    return this.#ws.readyState;
  }

  send(data: Uint8Array<ArrayBuffer>): void {
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.#ws.close(code, reason);
  }
}

let h: Harness;
afterEach(async () => {
  ReactNativeWebSocket.alwaysBlobs = false;
  await h?.close();
});

async function exchange(): Promise<Duplex> {
  h = await startHarness();
  const client = h.client({ WebSocket: ReactNativeWebSocket });
  const d = new Duplex(client);
  const [session] = await once<[Session]>(h.server, 'session', 5000);
  d.bind(session);
  await waitForState(client, 'open');
  d.pump(200);
  const reopened = once(client, 'resume', 5000);
  h.proxy.latest()!.reset();
  d.pump(100);
  await reopened;
  d.pump(100);
  await waitFor(() => d.complete, { timeoutMs: 5000 });
  return d;
}

const EXACT = { sent: 400, received: 400, lost: 0, duplicated: 0, reordered: 0 };

describe('client: React Native WebSocket', () => {
  it("opens although binaryType = 'nodebuffer' throws, and delivers exactly once across a reset", async () => {
    const d = await exchange();
    expect(d.up.verdict()).toEqual(EXACT);
    expect(d.down.verdict()).toEqual(EXACT);
  });

  it('reads messages that arrive as Blobs, in order', async () => {
    ReactNativeWebSocket.alwaysBlobs = true;
    const d = await exchange();
    expect(d.down.verdict()).toEqual(EXACT);
    expect(d.up.verdict()).toEqual(EXACT);
  });
});
