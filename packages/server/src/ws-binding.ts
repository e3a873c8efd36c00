import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerOptions, type WebSocket, WebSocketServer } from 'ws';
import type { Connection, Transport } from './connection.js';
import { writeFrame } from './ws-direct.js';
import { routeProbeAnswers } from './ws-probe-answers.js';

const CONNECTION = Symbol('probe.connection');

/** Adapts a `ws` socket to the core's {@link Transport}: one small object, no closures. */
class WsTransport implements Transport {
  constructor(private readonly ws: WebSocket & { _socket?: Duplex | null }) {}

  send(data: Uint8Array): void {
    if (!writeFrame(this.ws, data)) this.ws.send(data);
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  // `ws` exposes no batching API; corking its TCP socket makes its frame writes one writev.
  cork(): void {
    this.ws._socket?.cork();
  }

  uncork(): void {
    this.ws._socket?.uncork();
  }
}
type BoundSocket = WebSocket & { [CONNECTION]?: Connection };

export interface BindingTarget {
  /** Checked before the upgrade: an HTTP status and reason to refuse with, or null. */
  admit(request: IncomingMessage): readonly [number, string] | null;
  accept(transport: Transport, request: IncomingMessage): Connection;
}

// Shared listeners (no closure per socket): the connection is found on the socket itself.
function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as BoundSocket)[CONNECTION]?.receive(isBinary ? data : data.toString('utf8'));
}
function onClose(this: WebSocket, code: number): void {
  (this as BoundSocket)[CONNECTION]?.closed(code);
}
function onError(this: WebSocket, error: Error): void {
  (this as BoundSocket)[CONNECTION]?.transportError(error);
}

/**
 * The thin adapter between `ws` and the transport-agnostic core: upgrades requests, then feeds
 * each socket's frames and close to its {@link Connection}.
 */
export class WsBinding {
  readonly wss: WebSocketServer;

  constructor(
    private readonly target: BindingTarget,
    maxPayload: number,
    private readonly path: string | undefined,
  ) {
    // `closeTimeout` is a ws 8 option that @types/ws does not list yet.
    const options: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      // A peer we close for misbehaving may never answer the close frame; do not hold its
      // socket for ws's default 30 s.
      closeTimeout: 2000,
    };
    this.wss = new WebSocketServer(options);
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.path !== undefined && pathOf(request) !== this.path) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    // A socket that errors during the upgrade must not take the process down. A shared
    // function, not a closure: a closure here would keep the request alive with the socket.
    socket.on('error', destroySocket);
    // Refused before the 101: a refused origin never gets a WebSocket (nor the cookies' use).
    const refusal = this.target.admit(request);
    if (refusal !== null) {
      const [status, reason] = refusal;
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.bind(ws, request));
  }

  private bind(ws: WebSocket, request: IncomingMessage): void {
    ws.binaryType = 'nodebuffer';
    const connection = this.target.accept(new WsTransport(ws), request);
    (ws as BoundSocket)[CONNECTION] = connection;
    routeProbeAnswers(ws, connection);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function pathOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
