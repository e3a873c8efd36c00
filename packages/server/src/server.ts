import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  CloseCode,
  checkEventName,
  encodePayload,
  type HelloFrame,
  type NameOf,
  type NoSchema,
  ProbeError,
  type ProbeSchema,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import { AckBatcher } from './ack-batcher.js';
import { AddressCounts, originAllowed } from './admission.js';
import { Connection, type ConnectionHost, type Transport } from './connection.js';
import type { ConnectionErrorInfo, SessionInfo } from './events.js';
import { emitGuarded } from './guard.js';
import {
  type ProbeServerOptions,
  type ResolvedServerOptions,
  resolveServerOptions,
} from './options.js';
import { type SchedulerStats, TimerWheel } from './scheduler.js';
import { coreOf, type Session } from './session.js';
import { SessionRegistry } from './sessions.js';
import type { SessionStore } from './store.js';
import { Telemetry } from './telemetry.js';
import { randomToken } from './tokens.js';
import { WsBinding } from './ws-binding.js';

export interface ServerEvents<Data, In, Out, S extends ProbeSchema = NoSchema> {
  /** A new session opened, or (shared store) an existing one moved here from another node. */
  session: [session: Session<Data, In, Out, S>, info: SessionInfo];
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

/** Where `broadcast` sends, and how. */
export interface BroadcastOptions<Ses> {
  /** Members of this room (on every node, with a shared store); without it, every session here. */
  room?: string;
  /** A session that does not get it (say, the sender). */
  except?: Ses;
  /** At most once, to members connected now; not stored, not replayed. */
  volatile?: boolean;
  /** Sends it as this named event (the client's `on(event)` listeners get it). */
  event?: string;
}

/** Named groups of sessions, for `broadcast({ room })`. */
export interface ServerRooms<S> {
  /** Same as `session.join(room)`: resolves once the membership is in effect. */
  join(room: string, session: S): Promise<void>;
  leave(room: string, session: S): void;
  /** Members this node serves. */
  members(room: string): S[];
  names(): string[];
}

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
 * @typeParam S named events and requests of both sides (see `DefineSchema`).
 */
export class ProbeServer<
  Data = unknown,
  In = unknown,
  Out = unknown,
  S extends ProbeSchema = NoSchema,
> extends EventEmitter<ServerEvents<Data, In, Out, S>> {
  readonly options: ResolvedServerOptions<Data>;
  /** Identifies this server node (process); a restart gets a new one. */
  readonly nodeId = randomToken().slice(0, 12);
  /** @deprecated the same as {@link nodeId}. */
  readonly instanceId = this.nodeId;
  readonly rooms: ServerRooms<Session<Data, In, Out, S>>;
  readonly #wheel: TimerWheel;
  readonly #acks: AckBatcher;
  readonly #store: SessionStore | null;
  readonly #registry: SessionRegistry;
  readonly #connections = new Set<Connection>();
  readonly #addresses = new AddressCounts();
  readonly #binding: WsBinding;
  readonly #connectionHost: ConnectionHost;
  readonly #telemetry: Telemetry;
  #httpServer: HttpServer | undefined;
  #ownsHttpServer = false;
  #closing = false;
  #storeOpened: Promise<void> | null = null;
  readonly #now = () => performance.now();
  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
    this.handleUpgrade(request, socket, head);

  constructor(options: ProbeServerOptions<Data> = {}) {
    super();
    this.options = resolveServerOptions(options);
    const { probeIntervalMs, probeTimeoutMs } = this.options;
    const tickMs = Math.min(50, Math.max(5, Math.min(probeIntervalMs, probeTimeoutMs) / 20));
    this.#wheel = new TimerWheel(tickMs, 512, this.#now);
    this.#acks = new AckBatcher(this.options.ackDelayMs);
    this.#store = options.store ?? null;
    this.#telemetry = new Telemetry(this.options.logger, this.options.meterProvider, {
      connectionCount: () => this.#connections.size,
      sessions: () => this.#sessionGauges(),
    });
    const server = this;
    this.#registry = new SessionRegistry({
      options: this.options as ResolvedServerOptions<unknown>,
      wheel: this.#wheel,
      acks: this.#acks,
      now: this.#now,
      store: this.#store,
      nodeId: this.nodeId,
      get closing() {
        return server.#closing;
      },
      observer: this.#telemetry.observer,
      opened: (session, info) => {
        this.#telemetry.opened(session, info);
        emitGuarded(this, this.#report, 'session', session as Session<Data, In, Out, S>, info);
      },
      connectionError: (connection, code, closeCode, message) =>
        this.#connectionError(connection, code, closeCode, message),
      reportError: this.#report,
    });
    this.rooms = this.#roomsFacade();
    this.#binding = new WsBinding(
      {
        admit: (request) => this.#admit(request),
        accept: (ws, request) => this.#accept(ws, request),
      },
      this.options.maxPayloadBytes,
      this.options.path,
    );
    this.#connectionHost = {
      options: this.options,
      wheel: this.#wheel,
      now: this.#now,
      hello: (connection, hello) => this.#hello(connection, hello),
      connectionClosed: (connection) => {
        this.#connections.delete(connection);
        this.#addresses.delete(connection.remoteAddress);
      },
      connectionError: (connection, code, closeCode, message) =>
        this.#connectionError(connection, code, closeCode, message),
      probes: this.#telemetry.probes,
    };
    if (options.server) this.attach(options.server);
  }

  /**
   * Starts a standalone HTTP server for WebSocket upgrades.
   * @returns the bound port (useful with port 0) and host.
   */
  async listen(port = 0, host?: string): Promise<{ port: number; host: string }> {
    if (this.#httpServer)
      throw new ProbeError('invalid-option', 'the server is already listening or attached');
    if (this.options.noServer)
      throw new ProbeError('invalid-option', 'listen() cannot be used with noServer');
    const http = createServer((_, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket upgrade required\n');
    });
    this.attach(http);
    // This server serves upgrades only: the whole request is bounded like its headers.
    http.requestTimeout = this.options.handshakeTimeoutMs;
    this.#ownsHttpServer = true;
    await this.ready();
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

  /**
   * Handles upgrades of an existing HTTP server (only for `options.path` when set). An upgrade
   * request whose headers never complete is not covered by `handshakeTimeoutMs` (that starts
   * once the WebSocket is open), so the server's `headersTimeout` is lowered to it. Only the
   * headers: `requestTimeout` also bounds the bodies of the app's own requests, so it is left
   * alone.
   */
  attach(server: HttpServer): void {
    this.#httpServer = server;
    const { handshakeTimeoutMs } = this.options;
    if (!server.headersTimeout || server.headersTimeout > handshakeTimeoutMs) {
      server.headersTimeout = handshakeTimeoutMs;
    }
    server.on('upgrade', this.#onUpgrade);
    void this.ready().catch(this.#report);
  }

  /**
   * Resolves once the shared store serves this node (at once without one). `listen()` waits
   * for it; with `attach()` or `noServer`, await it before taking traffic.
   */
  ready(): Promise<void> {
    this.#storeOpened ??=
      this.#store?.open(
        { id: this.nodeId, release: (id) => this.#registry.release(id) },
        { sessionTtlMs: this.options.sessionTtlMs },
      ) ?? Promise.resolve();
    return this.#storeOpened;
  }

  /** For `noServer` setups (Express, Fastify): hand over an upgrade request. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    this.#binding.handleUpgrade(request, socket, head);
  }

  /** Sessions this node serves, open or suspended. */
  get sessionCount(): number {
    return this.#registry.local.size;
  }

  /** Every session this node serves, open or suspended. */
  *sessions(): IterableIterator<Session<Data, In, Out, S>> {
    for (const core of this.#registry.local.values()) {
      const session = this.#registry.facade(core);
      if (session) yield session as Session<Data, In, Out, S>;
    }
  }

  /**
   * Sends `data` to every member of `room` (or, without `room`, to every session this node
   * serves), encoding it once. Each member gets it in its own sequence: exactly once and in
   * order, across reconnects, and with a shared store across nodes (every member on every
   * node, in one room order). With `volatile: true` it is sent only to members connected now,
   * is never stored or replayed and may be lost: at most once (typing indicators, presence).
   * With `event` it is sent as that named event.
   * @returns how many members this node serves that it goes to (with a shared store, members
   * on other nodes get it too).
   * @throws {ProbeError} `unencodable` for data that is not plain data, `invalid-argument` for
   * a reserved event name.
   */
  broadcast<K extends NameOf<S['serverEvents']>>(
    payload: S['serverEvents'][K],
    options: BroadcastOptions<Session<Data, In, Out, S>> & { event: K },
  ): number;
  broadcast(
    data: Out,
    options?: BroadcastOptions<Session<Data, In, Out, S>> & { event?: undefined },
  ): number;
  broadcast(data: unknown, options: BroadcastOptions<Session<Data, In, Out, S>> = {}): number {
    const registry = this.#registry;
    const { room, volatile = false, event } = options;
    const except = options.except && coreOf(options.except);
    const store = this.#store;
    const payload = encodePayload(data, event === undefined ? null : checkEventName(event));
    if (store !== null && room !== undefined) {
      const exceptId = except?.id ?? null;
      const publish = volatile
        ? store.publishVolatile(room, payload, exceptId)
        : store.publish(room, payload, exceptId);
      publish.catch(this.#report);
      let count = 0;
      for (const core of registry.rooms.members(room)) if (core !== except) count++;
      return count;
    }
    const targets = room === undefined ? registry.local.values() : registry.rooms.members(room);
    return registry.rooms.broadcast(targets, payload, except, volatile);
  }

  /**
   * Ends every session this node serves for which `predicate` is true (for example every
   * session of a user whose access was revoked): the client is told 4503 and does not resume.
   * @returns how many sessions were ended.
   */
  endSessions(predicate: (session: Session<Data, In, Out, S>) => boolean): number {
    let count = 0;
    for (const session of [...this.sessions()]) {
      if (!predicate(session)) continue;
      coreOf(session)?.end('revoked');
      count++;
    }
    return count;
  }

  stats(): ServerStats {
    let open = 0;
    let suspended = 0;
    for (const core of this.#registry.local.values()) {
      if (core.state === 'open') open++;
      else if (core.state === 'suspended') suspended++;
    }
    return {
      connections: this.#connections.size,
      sessions: { open, suspended },
      scheduler: this.#wheel.stats(),
    };
  }

  /**
   * Closes every connection with 4000 `SERVER_SHUTDOWN` (retryable) but keeps the sessions:
   * clients reconnect and resume. Use it to shed connections under load.
   * @returns how many connections were closed.
   */
  dropConnections(reason = 'server draining connections'): number {
    const connections = [...this.#connections];
    for (const connection of connections) {
      const peer = connection.peer;
      connection.release(CloseCode.SERVER_SHUTDOWN, reason);
      peer?.disconnected(connection, 'closed');
    }
    return connections.length;
  }

  /**
   * Graceful shutdown. Every client is told to reconnect (4000, retryable). With a shared
   * store, sessions are handed over: what was delivered is stored and any node resumes them
   * exactly. Without one, or with `endSessions: true`, sessions end with `'server-shutdown'`.
   * The HTTP server closes if `listen()` made it.
   */
  async close(options: { endSessions?: boolean } = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const cores = [...this.#registry.local.values()];
    if (this.#store === null || options.endSessions) {
      for (const core of cores) core.end('server-shutdown');
    } else {
      this.#acks.flush();
      await Promise.all(
        cores.map((core) => core.release(CloseCode.SERVER_SHUTDOWN, 'server shutting down')),
      );
    }
    for (const connection of [...this.#connections]) {
      connection.closeWith(CloseCode.SERVER_SHUTDOWN, 'server shutting down');
    }
    this.#wheel.clear();
    this.#acks.clear();
    this.#telemetry.close();
    await this.#store?.detach().catch(this.#report);
    await this.#binding.close();
    const http = this.#httpServer;
    if (http) {
      http.off('upgrade', this.#onUpgrade);
      if (this.#ownsHttpServer) {
        http.closeAllConnections?.();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
    }
  }

  #admit(request: IncomingMessage): readonly [number, string] | null {
    const remoteAddress = request.socket.remoteAddress;
    const refuse = (
      status: number,
      text: string,
      code: string,
      closeCode: number,
      message: string,
    ) => {
      const info: ConnectionErrorInfo = {
        code,
        closeCode,
        message,
        remoteAddress,
        sessionId: undefined,
      };
      this.#telemetry.connectionError(info);
      emitGuarded(this, this.#report, 'connection-error', info);
      return [status, text] as const;
    };
    let allowed: boolean;
    try {
      allowed = originAllowed(this.options.allowOrigin, request);
    } catch (error) {
      // A throwing allowOrigin refuses: an error in the check must not let anyone in.
      this.#report(error);
      allowed = false;
    }
    if (!allowed) {
      const origin = String(request.headers.origin);
      return refuse(
        403,
        'Forbidden',
        'forbidden-origin',
        CloseCode.FORBIDDEN_ORIGIN,
        `origin ${origin} not allowed`,
      );
    }
    if (!this.#addresses.hasRoom(remoteAddress, this.options.maxConnectionsPerAddress)) {
      const message = `more than ${this.options.maxConnectionsPerAddress} connections from ${remoteAddress}`;
      return refuse(
        429,
        'Too Many Requests',
        'too-many-connections',
        CloseCode.TRY_AGAIN_LATER,
        message,
      );
    }
    return null;
  }

  #accept(transport: Transport, request: IncomingMessage): Connection {
    const connection = new Connection(this.#connectionHost, transport, request);
    this.#connections.add(connection);
    this.#addresses.add(connection.remoteAddress);
    return connection;
  }

  async #hello(connection: Connection, hello: HelloFrame): Promise<void> {
    if (hello.resume) {
      await this.#registry.resume(connection, hello.resume);
      return;
    }
    let data: Data;
    try {
      data = this.options.authenticate
        ? await this.options.authenticate(hello.auth, connection.request as IncomingMessage)
        : (undefined as Data);
    } catch (error) {
      // The detail stays in the log: the client learns only that it was refused.
      this.#connectionError(connection, 'unauthorized', CloseCode.UNAUTHORIZED, String(error));
      connection.closeWith(CloseCode.UNAUTHORIZED, 'unauthorized');
      return;
    }
    if (!connection.isWelcoming || this.#closing) return;
    await this.#registry.open(connection, data);
  }

  #connectionError(connection: Connection, code: string, closeCode: number, message: string) {
    const info: ConnectionErrorInfo = {
      code,
      closeCode,
      message,
      remoteAddress: connection.remoteAddress,
      sessionId: connection.peer?.id,
    };
    this.#telemetry.connectionError(info);
    emitGuarded(this, this.#report, 'connection-error', info);
  }

  readonly #report = (error: unknown): void => {
    try {
      if (this.listenerCount('error') > 0) {
        this.emit('error', error);
        return;
      }
    } catch (thrown) {
      // An 'error' listener that throws must not loop back here.
      error = thrown;
    }
    this.#telemetry.unhandled(error);
  };

  /** Each session's state and replay bytes, for the metrics' gauges. */
  *#sessionGauges(): IterableIterator<{ state: string; bufferedBytes: number }> {
    const gauge = { state: '', bufferedBytes: 0 };
    for (const core of this.#registry.local.values()) {
      gauge.state = core.state;
      gauge.bufferedBytes = core.delivery.outbound.bytes;
      yield gauge;
    }
  }

  #roomsFacade(): ServerRooms<Session<Data, In, Out, S>> {
    const registry = this.#registry;
    return {
      join: (room, session) => session.join(room),
      leave: (room, session) => session.leave(room),
      members: (room) =>
        [...registry.rooms.members(room)].flatMap((core) => {
          const session = registry.facade(core);
          return session ? [session as Session<Data, In, Out, S>] : [];
        }),
      names: () => registry.rooms.names(),
    };
  }
}
