import {
  encode,
  type Frame,
  FrameType,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from '@probe/protocol';
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
  /** The code and reason the client closed this socket with, if it did. */
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;

  constructor(readonly url: string) {
    FakeSocket.created.push(this);
  }

  send(data: Uint8Array): void {
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3;
    this.closedWith = { code, reason };
  }

  /** The server accepts: open, then a welcome (fields of `welcome` override the defaults). */
  welcome(sessionId = 's.1', resumed = false, welcome: Partial<WelcomeFrame> = {}): void {
    this.readyState = 1;
    this.onopen?.({});
    this.receive({
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
      ...welcome,
    });
  }

  /** A frame from the server, as browsers deliver it (an ArrayBuffer). */
  receive(frame: Frame): void {
    this.onmessage?.({ data: new Uint8Array(encode(frame)).buffer });
  }

  /** The connection drops with `code`. */
  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
