/**
 * What the exchange runner needs from a WebSocket client, and an adapter for the `ws` package.
 * The runner takes the client as a parameter, so `@probe/protocol` depends on no WebSocket
 * library.
 */

export type SocketEvent =
  | { readonly kind: 'message'; readonly data: Uint8Array | string }
  | { readonly kind: 'close'; readonly code: number; readonly reason: string };

export interface ExchangeSocket {
  /** Bytes as a binary message, a string as a text message. */
  send(data: Uint8Array | string): void;
  /**
   * The next received message, or the close once the connection is closed (again on every
   * later call); null when nothing arrived within `timeoutMs`.
   */
  next(timeoutMs: number): Promise<SocketEvent | null>;
  /** Starts the closing handshake. */
  close(code: number, reason: string): void;
  /** Drops the connection at once. */
  terminate(): void;
}

export interface ConnectRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** An open connection with the response headers of its upgrade, or the HTTP status it got. */
export type Connected =
  | {
      readonly socket: ExchangeSocket;
      readonly headers: Readonly<Record<string, string | undefined>>;
    }
  | { readonly status: number };

/** Opens a WebSocket; rejects when no HTTP answer came (refused, reset, timed out). */
export type Connect = (request: ConnectRequest) => Promise<Connected>;

/** The part of the `ws` package's `WebSocket` the adapter uses. */
export interface WsSocket {
  on(event: string, listener: (...args: never[]) => void): unknown;
  send(data: Uint8Array | string): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

export type WsConstructor = new (
  url: string,
  options: {
    headers: Record<string, string>;
    handshakeTimeout: number;
    perMessageDeflate: false;
  },
) => WsSocket;

interface UpgradeResponse {
  readonly statusCode?: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * A {@link Connect} over the `ws` package: `wsConnect(WebSocket)` with the class `ws` exports.
 * It offers no extension, so a server that negotiates one anyway fails the connect.
 */
export function wsConnect(WebSocket: WsConstructor): Connect {
  return ({ url, headers, timeoutMs }) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { ...headers },
        handshakeTimeout: timeoutMs,
        perMessageDeflate: false,
      });
      const socket = new QueuedSocket(ws);
      let responseHeaders: Record<string, string | undefined> = {};
      ws.on('upgrade', (response: UpgradeResponse) => {
        responseHeaders = flatten(response.headers);
      });
      ws.on('open', () => resolve({ socket, headers: responseHeaders }));
      ws.on('unexpected-response', (request: { destroy(): void }, response: UpgradeResponse) => {
        request.destroy();
        resolve({ status: response.statusCode ?? 0 });
      });
      // After 'open' an error is followed by 'close', which the socket reports.
      ws.on('error', (error: Error) => reject(error));
    });
}

function flatten(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

/** Queues what a `ws` socket receives, so nothing is missed between two `next()` calls. */
class QueuedSocket implements ExchangeSocket {
  readonly #ws: WsSocket;
  readonly #queue: SocketEvent[] = [];
  #closed: SocketEvent | null = null;
  #wake: (() => void) | null = null;

  constructor(ws: WsSocket) {
    this.#ws = ws;
    ws.on('message', (data: Uint8Array, isBinary: boolean) => {
      const bytes = new Uint8Array(data);
      this.#push({
        kind: 'message',
        data: isBinary ? bytes : new TextDecoder().decode(bytes),
      });
    });
    ws.on('close', (code: number, reason: Uint8Array) => {
      this.#closed = { kind: 'close', code, reason: new TextDecoder().decode(reason) };
      this.#push(this.#closed);
    });
  }

  #push(event: SocketEvent): void {
    this.#queue.push(event);
    this.#wake?.();
  }

  send(data: Uint8Array | string): void {
    this.#ws.send(data);
  }

  async next(timeoutMs: number): Promise<SocketEvent | null> {
    const queued = this.#queue.shift();
    if (queued) return queued;
    if (this.#closed) return this.#closed;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    clearTimeout(timer);
    this.#wake = null;
    return this.#queue.shift() ?? this.#closed;
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }
}
