import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  CloseCode,
  closeCodeName,
  encode,
  FrameType,
  type HelloFrame,
  PROTOCOL_VERSION,
  ProbeError,
  type ResumeRequest,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import { AckBatcher } from './ack-batcher.js';
import { Connection, type ConnectionHost, type Transport } from './connection.js';
import type { CloseReason, ConnectionErrorInfo } from './events.js';
import {
  type ProbeServerOptions,
  type ResolvedServerOptions,
  resolveServerOptions,
} from './options.js';
import { Rooms } from './rooms.js';
import { type SchedulerStats, TimerWheel } from './scheduler.js';
import { CLOSE_CODES, Session, type SessionHost } from './session.js';
import { EndedSessions, MemorySessionStore, type SessionStore } from './session-store.js';
import { randomToken } from './tokens.js';
import { WsBinding } from './ws-binding.js';

export interface ServerEvents<Data, In, Out> {
  /** A new session opened (not fired when a session resumes). */
  session: [session: Session<Data, In, Out>];
  /** A connection was refused or cut for misbehaving: one log entry. */
  'connection-error': [info: ConnectionErrorInfo];
  /** An exception thrown by an application event handler, or a server-level error. */
  error: [error: unknown];
}

export interface ServerStats {
  connections: number;
  sessions: { open: number; suspended: number };
  scheduler: SchedulerStats;
}

/** Sessions are only resumable on the instance that created them (see docs/session-store.md). */
const SESSION_ID_SEPARATOR = '.';

/**
 * Probe server: accepts WebSocket connections, probes each one on a schedule, and keeps
 * sessions resumable across connection loss with exactly-once, in-order delivery.
 *
 * @example
 * const server = new ProbeServer({ probeIntervalMs: 5000, probeTimeoutMs: 3000 });
 * server.on('session', (session) => {
 *   session.on('message', (data) => session.send({ echo: data }));
 * });
 * const { port } = await server.listen(8080);
 *
 * @typeParam Data what `authenticate` returns (available as `session.data`).
 * @typeParam In messages clients send; @typeParam Out messages the server sends.
 */
export class ProbeServer<Data = unknown, In = unknown, Out = unknown> extends EventEmitter<
  ServerEvents<Data, In, Out>
> {
  readonly options: ResolvedServerOptions<Data>;
  /** Identifies this server instance; a restart gets a new one. */
  readonly instanceId = randomToken().slice(0, 12);
  /** Named groups of sessions, for `broadcast({ room })`. */
  readonly rooms = new Rooms<Session<Data, In, Out>>();
  private readonly wheel: TimerWheel;
  private readonly acks: AckBatcher;
  private readonly store: SessionStore<Session<Data, In, Out>>;
  private readonly ended = new EndedSessions();
  private readonly connections = new Set<Connection>();
  private readonly binding: WsBinding;
  private httpServer: HttpServer | undefined;
  private ownsHttpServer = false;
  private closing = false;
  private readonly now = () => performance.now();
  private readonly connectionHost: ConnectionHost;
  private readonly sessionHost: SessionHost;
  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
    this.handleUpgrade(request, socket, head);

  constructor(
    options: ProbeServerOptions<Data> & { store?: SessionStore<Session<Data, In, Out>> } = {},
  ) {
    super();
    this.options = resolveServerOptions(options);
    const { probeIntervalMs, probeTimeoutMs } = this.options;
    const tickMs = Math.min(50, Math.max(5, Math.min(probeIntervalMs, probeTimeoutMs) / 20));
    this.wheel = new TimerWheel(tickMs, 512, this.now);
    this.acks = new AckBatcher(this.options.ackDelayMs);
    this.store = options.store ?? new MemorySessionStore<Session<Data, In, Out>>();
    this.binding = new WsBinding(
      { accept: (ws, req) => this.accept(ws, req) },
      this.options.maxPayloadBytes,
      this.options.path,
    );
    this.connectionHost = {
      options: this.options,
      wheel: this.wheel,
      now: this.now,
      hello: (connection, hello) => this.hello(connection, hello),
      connectionClosed: (connection) => this.connections.delete(connection),
      connectionError: (connection, code, closeCode, message) => {
        this.emit('connection-error', {
          code,
          closeCode,
          message,
          remoteAddress: connection.remoteAddress,
          sessionId: connection.session?.id,
        });
      },
    };
    this.sessionHost = {
      options: this.options as ResolvedServerOptions<unknown>,
      wheel: this.wheel,
      acks: this.acks,
      now: this.now,
      sessionClosed: (session, reason: CloseReason) => {
        this.rooms.leaveAll(session as Session<Data, In, Out>);
        void this.store.delete(session.id);
        this.ended.add(session.id, CLOSE_CODES[reason]);
      },
      reportError: (error) => this.reportError(error),
    };
    if (options.server) this.attach(options.server);
  }

  /**
   * Starts a standalone HTTP server for WebSocket upgrades.
   * @returns the bound port (useful with port 0) and host.
   */
  async listen(port = 0, host?: string): Promise<{ port: number; host: string }> {
    if (this.httpServer)
      throw new ProbeError('invalid-option', 'the server is already listening or attached');
    if (this.options.noServer)
      throw new ProbeError('invalid-option', 'listen() cannot be used with noServer');
    const http = createServer((_, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
    });
    // An upgrade request that never completes is not covered by handshakeTimeoutMs (that
    // starts once the WebSocket is open), so bound the HTTP request headers the same way.
    http.headersTimeout = this.options.handshakeTimeoutMs;
    http.requestTimeout = this.options.handshakeTimeoutMs;
    this.attach(http);
    this.ownsHttpServer = true;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const address = http.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  /** Handles upgrades of an existing HTTP server (only for `options.path` when set). */
  attach(server: HttpServer): void {
    this.httpServer = server;
    server.on('upgrade', this.onUpgrade);
  }

  /** For `noServer` setups (Express, Fastify): hand over an upgrade request. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    this.binding.handleUpgrade(request, socket, head);
  }

  /** Sessions currently held, open or suspended. */
  get sessionCount(): number {
    return this.store.size;
  }

  /** Every session held, open or suspended. */
  sessions(): Iterable<Session<Data, In, Out>> {
    return this.store.values();
  }

  /**
   * Sends `data` to every session (or every member of `room`), encoding it once.
   * @returns how many sessions it was sent to.
   */
  broadcast(data: Out, options: { room?: string; except?: Session<Data, In, Out> } = {}): number {
    const targets =
      options.room === undefined ? this.store.values() : this.rooms.members(options.room);
    return this.rooms.broadcast(targets, data, options.except);
  }

  stats(): ServerStats {
    let open = 0;
    let suspended = 0;
    for (const session of this.store.values()) {
      if (session.state === 'open') open++;
      else if (session.state === 'suspended') suspended++;
    }
    return {
      connections: this.connections.size,
      sessions: { open, suspended },
      scheduler: this.wheel.stats(),
    };
  }

  /**
   * Closes every connection with 4000 `SERVER_SHUTDOWN` (retryable) but keeps the sessions:
   * clients reconnect and resume. Use it to drain a server before handing its sessions over,
   * or to shed connections under load.
   * @returns how many connections were closed.
   */
  dropConnections(reason = 'server draining connections'): number {
    const connections = [...this.connections];
    for (const connection of connections) {
      const session = connection.session;
      connection.closeWith(CloseCode.SERVER_SHUTDOWN, reason);
      session?.suspend('closed');
    }
    return connections.length;
  }

  /**
   * Graceful shutdown: every client is told to reconnect later (close code 4000, retryable),
   * sessions end with `'server-shutdown'`, and the HTTP server closes if `listen()` made it.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const session of [...this.store.values()]) session.end('server-shutdown');
    for (const connection of [...this.connections]) {
      connection.closeWith(CloseCode.SERVER_SHUTDOWN, 'server shutting down');
    }
    this.wheel.clear();
    this.acks.clear();
    await this.binding.close();
    const http = this.httpServer;
    if (http) {
      http.off('upgrade', this.onUpgrade);
      if (this.ownsHttpServer) {
        http.closeAllConnections?.();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
    }
  }

  private accept(transport: Transport, request: IncomingMessage): Connection {
    const connection = new Connection(this.connectionHost, transport, request);
    this.connections.add(connection);
    const { allowOrigin } = this.options;
    if (allowOrigin && !allowOrigin(request.headers.origin, request)) {
      connection.fail('forbidden-origin', CloseCode.FORBIDDEN_ORIGIN, 'origin not allowed');
    }
    return connection;
  }

  private async hello(connection: Connection, hello: HelloFrame): Promise<void> {
    if (hello.resume) {
      await this.resume(connection, hello.resume);
      return;
    }
    let data: Data;
    try {
      data = this.options.authenticate
        ? await this.options.authenticate(hello.auth, connection.request as IncomingMessage)
        : (undefined as Data);
    } catch (error) {
      const reason = error instanceof Error && error.message ? error.message : 'unauthorized';
      connection.fail('unauthorized', CloseCode.UNAUTHORIZED, reason);
      return;
    }
    if (!connection.isWelcoming || this.closing) return;
    const id = `${this.instanceId}${SESSION_ID_SEPARATOR}${randomToken()}`;
    const session = new Session<Data, In, Out>(id, data, this.sessionHost);
    if (!this.welcome(connection, session, 0, false)) return;
    await this.store.set(id, session);
    // With an async store the connection may have dropped meanwhile: then the new session
    // starts suspended and can be resumed like any other.
    if (connection.isOpen) session.attach(connection, null);
    else session.suspend('closed');
    this.emit('session', session);
  }

  private async resume(connection: Connection, request: ResumeRequest): Promise<void> {
    const session = await this.store.get(request.sessionId);
    if (!connection.isWelcoming) return;
    if (!session || session.state === 'closed') {
      const [code, message] = this.whyUnknown(request.sessionId);
      connection.fail('resume-refused', code, message);
      return;
    }
    if (!session.tokenMatches(request.token)) {
      // The session itself is untouched: a wrong guess must not disturb its owner.
      connection.fail('resume-refused', CloseCode.TOKEN_INVALID, 'invalid resume token');
      return;
    }
    if (request.lastSeq > session.outbound.lastSeq) {
      connection.fail(
        'bad-sequence',
        CloseCode.PROTOCOL_ERROR,
        'resume claims messages never sent',
      );
      return;
    }
    if (request.sentSeq < session.inbound.lastSeq) {
      connection.fail(
        'bad-sequence',
        CloseCode.PROTOCOL_ERROR,
        'resume forgets messages already received',
      );
      return;
    }
    session.connection?.supersede();
    session.outbound.ack(request.lastSeq);
    if (!this.welcome(connection, session, session.inbound.lastSeq, true)) return;
    session.attach(connection, request);
  }

  private whyUnknown(id: string): [number, string] {
    const ended = this.ended.get(id);
    if (ended !== undefined)
      return [ended, `session ended (${closeCodeName(ended).toLowerCase()})`];
    if (!id.startsWith(this.instanceId + SESSION_ID_SEPARATOR)) {
      return [CloseCode.SERVER_RESTARTED, 'session belongs to a server instance that is gone'];
    }
    return [CloseCode.SESSION_UNKNOWN, 'unknown session'];
  }

  /** Sends the welcome; false when the connection went away meanwhile. */
  private welcome(
    connection: Connection,
    session: Session<Data, In, Out>,
    lastSeq: number,
    resumed: boolean,
  ): boolean {
    if (this.closing) return false;
    const { probeIntervalMs, probeTimeoutMs, maxPayloadBytes } = this.options;
    const token = session.issueToken();
    connection.send(
      encode({
        type: FrameType.WELCOME,
        version: PROTOCOL_VERSION,
        sessionId: session.id,
        token,
        probeIntervalMs,
        probeTimeoutMs,
        maxPayloadBytes,
        resumed,
        lastSeq,
        sentSeq: session.outbound.lastSeq,
      }),
    );
    connection.opened(session as Session);
    return connection.isOpen;
  }

  private reportError(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('[probe] unhandled error in an event handler:', error);
  }
}
