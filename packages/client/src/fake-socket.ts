import { encode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import type { WebSocketLike } from './options.js';

/**
 * A scripted stand-in for WebSocket, for tests of the client's timing logic under fake timers.
 * Delivery itself is tested over real sockets in the cross-package tests.
 */
export class FakeSocket implements WebSocketLike {
  static created: FakeSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Uint8Array[] = [];

  constructor(readonly url: string) {
    FakeSocket.created.push(this);
  }

  send(data: Uint8Array): void {
    this.sent.push(data);
  }

  close(): void {
    this.readyState = 3;
  }

  /** The server accepts: open, then a welcome. */
  welcome(sessionId = 's.1', resumed = false): void {
    this.readyState = 1;
    this.onopen?.({});
    const frame = encode({
      type: FrameType.WELCOME,
      version: PROTOCOL_VERSION,
      sessionId,
      token: 'token',
      probeIntervalMs: 1000,
      probeTimeoutMs: 1000,
      maxPayloadBytes: 1 << 20,
      resumed,
      lastSeq: 0,
      sentSeq: 0,
    });
    this.onmessage?.({ data: new Uint8Array(frame).buffer });
  }

  /** The connection drops with `code`. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
