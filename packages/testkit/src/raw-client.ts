import { decode, encode, type Frame } from '@probe/protocol';
import { type ClientOptions, type RawData, WebSocket } from 'ws';

export interface RawClientOptions {
  /** Give up on the opening handshake after this long. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Extra HTTP headers for the upgrade request. */
  readonly headers?: Record<string, string>;
  /** Passed to `ws` as is, for anything else (maxPayload, perMessageDeflate…). */
  readonly ws?: ClientOptions;
}

/** How the connection ended, as `ws` reports it (1006 when no close frame came). */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A received WebSocket message before decoding. Text messages arrive as strings. */
export type RawMessage = Uint8Array | string;

/**
 * A bare WebSocket client for protocol-level tests: it sends whatever it is told to, bytes or
 * frames, and queues every received message so none is missed between two awaits.
 */
export class RawClient {
  /** The underlying socket, for anything not covered here. */
  readonly ws: WebSocket;
  readonly #queue: RawMessage[] = [];
  readonly #waiting: Array<() => void> = [];
  readonly #closed: Promise<CloseInfo>;
  #closeInfo: CloseInfo | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.#queue.push(isBinary ? toBytes(data) : toBytes(data).toString());
      this.#wake();
    });
    this.#closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.#closeInfo = { code, reason: reason.toString() };
        resolve(this.#closeInfo);
        this.#wake();
      });
    });
    // Errors (ECONNRESET, bad frames) are followed by 'close'; that is what tests look at.
    ws.on('error', () => {});
  }

  /**
   * Opens a connection and resolves once the handshake is done.
   * @throws {Error} when the handshake fails, is answered with a non-101 response, or times out.
   */
  static connect(url: string, options: RawClientOptions = {}): Promise<RawClient> {
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    const ws = new WebSocket(url, {
      ...options.ws,
      handshakeTimeout: timeoutMs,
      ...(options.headers ? { headers: options.headers } : {}),
    });
    // Aborting a handshake emits an error of its own; it must not go unhandled.
    ws.on('error', () => {});
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        ws.off('error', fail);
        ws.off('unexpected-response', onResponse);
        ws.off('open', onOpen);
        ws.terminate();
        reject(error);
      };
      const onOpen = () => {
        ws.off('error', fail);
        ws.off('unexpected-response', onResponse);
        resolve(new RawClient(ws));
      };
      const onResponse = (_req: unknown, res: { statusCode?: number }) =>
        fail(new Error(`RawClient: upgrade refused with HTTP ${res.statusCode}`));
      ws.once('open', onOpen);
      ws.once('error', fail);
      ws.once('unexpected-response', onResponse);
    });
  }

  /** Sends one message as is: bytes as a binary message, a string as a text message. */
  sendBytes(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  /** Encodes `frame` with the protocol codec and sends it as one binary message. */
  sendFrame(frame: Frame): void {
    this.sendBytes(encode(frame));
  }

  /**
   * The next received message, undecoded.
   * @throws {Error} when the connection closes first or nothing comes within `timeoutMs`.
   */
  async nextMessage(timeoutMs = 5000): Promise<RawMessage> {
    const deadline = performance.now() + timeoutMs;
    // Each pass either returns, throws, or waits for a message/close; the deadline bounds it.
    for (;;) {
      const message = this.#queue.shift();
      if (message !== undefined) return message;
      if (this.#closeInfo) {
        const { code, reason } = this.#closeInfo;
        throw new Error(`RawClient: closed (${code} ${reason}) with no message left`);
      }
      const left = deadline - performance.now();
      if (left <= 0 || !(await this.#wait(left))) {
        throw new Error(`RawClient: no message within ${timeoutMs} ms`);
      }
    }
  }

  /**
   * The next received message, decoded as a frame.
   * @throws {ProtocolError} when the message is not a valid frame, or as {@link nextMessage}.
   */
  async nextFrame(timeoutMs = 5000): Promise<Frame> {
    return decode(await this.nextMessage(timeoutMs));
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Resolves with the close code and reason once the connection is closed.
   * @throws {Error} when it is still open after `timeoutMs` (default 5000).
   */
  waitForClose(timeoutMs = 5000): Promise<CloseInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`RawClient: still open after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([this.#closed, timeout]).finally(() => clearTimeout(timer));
  }

  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  /** Drops the TCP connection at once, without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Resolves true when woken by a message or close, false on timeout. */
  #wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve(false);
      }, ms);
      this.#waiting.push(wake);
    });
  }

  #wake(): void {
    for (const wake of this.#waiting.splice(0)) wake();
  }
}

function toBytes(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
