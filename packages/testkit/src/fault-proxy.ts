import net, { type Server, type Socket } from 'node:net';
import { Link, type ProxiedConnection, resetSocket } from './proxied-connection.js';

export type { ProxiedConnection } from './proxied-connection.js';

const HOST = '127.0.0.1';

export interface FaultProxyOptions {
  /** Port of the server to forward to. */
  readonly targetPort: number;
  /** Default `127.0.0.1`. */
  readonly targetHost?: string;
  /** Port to listen on (always on 127.0.0.1). Default 0: any free port. */
  readonly listenPort?: number;
}

export interface FaultProxyStats {
  /** Connections accepted and forwarded. */
  readonly accepted: number;
  /** Connections reset on arrival because of {@link FaultProxy.refuse}. */
  readonly refused: number;
  /** Bytes forwarded in both directions over all connections. */
  readonly bytesForwarded: number;
}

/**
 * A TCP proxy on 127.0.0.1 that forwards every connection to one target and can break any
 * of them on demand: blackhole, reset, clean close, latency, refusal of new connections.
 */
export interface FaultProxy {
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  /** Live connections, oldest first. */
  readonly connections: ReadonlyArray<ProxiedConnection>;
  /** The newest live connection. */
  latest(): ProxiedConnection | undefined;
  /**
   * Resolves with the next connection accepted after this call.
   * @throws {Error} after `timeoutMs` (default 5000), or when the proxy closes first.
   */
  waitForConnection(timeoutMs?: number): Promise<ProxiedConnection>;
  /** {@link ProxiedConnection.blackhole} on every live connection (not on later ones). */
  blackholeAll(): void;
  restoreAll(): void;
  resetAll(): void;
  /** While on, each new connection is reset as soon as it is accepted. Live ones carry on. */
  refuse(on: boolean): void;
  /** A snapshot of the counters. */
  readonly stats: FaultProxyStats;
  /** Resets every connection and stops listening. Safe to call more than once. */
  close(): Promise<void>;
}

interface Waiter {
  readonly resolve: (conn: ProxiedConnection) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

class FaultProxyImpl implements FaultProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #targetHost: string;
  readonly #live: Link[] = [];
  readonly #waiters = new Set<Waiter>();
  #nextId = 1;
  #refusing = false;
  #closing: Promise<void> | undefined;
  #accepted = 0;
  #refused = 0;
  #bytesForwarded = 0;

  constructor(server: Server, options: FaultProxyOptions) {
    this.#server = server;
    this.#targetPort = options.targetPort;
    this.#targetHost = options.targetHost ?? HOST;
    this.port = (server.address() as net.AddressInfo).port;
    server.on('connection', (socket) => this.#accept(socket));
    // A listener error after startup (EMFILE…) must not crash the test process.
    server.on('error', () => {});
  }

  url(path = '/'): string {
    return `ws://${HOST}:${this.port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  get connections(): ReadonlyArray<ProxiedConnection> {
    return [...this.#live];
  }

  latest(): ProxiedConnection | undefined {
    return this.#live.at(-1);
  }

  waitForConnection(timeoutMs = 5000): Promise<ProxiedConnection> {
    if (this.#closing) return Promise.reject(new Error('fault proxy is closed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`fault proxy: no new connection within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  blackholeAll(): void {
    for (const conn of this.#live) conn.blackhole();
  }

  restoreAll(): void {
    for (const conn of this.#live) conn.restore();
  }

  resetAll(): void {
    for (const conn of this.#live) conn.reset();
  }

  refuse(on: boolean): void {
    this.#refusing = on;
  }

  get stats(): FaultProxyStats {
    return {
      accepted: this.#accepted,
      refused: this.#refused,
      bytesForwarded: this.#bytesForwarded,
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('fault proxy closed before a new connection arrived'));
    }
    this.#waiters.clear();
    const listenerClosed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const live = [...this.#live];
    for (const conn of live) conn.reset();
    await Promise.all([listenerClosed, ...live.map((conn) => conn.closed)]);
  }

  #accept(client: Socket): void {
    // Before anything else: an RST from the client must never become an unhandled error.
    client.on('error', () => {});
    if (this.#closing) {
      client.destroy();
      return;
    }
    if (this.#refusing) {
      this.#refused++;
      resetSocket(client);
      return;
    }
    this.#accepted++;
    const upstream = net.connect({
      port: this.#targetPort,
      host: this.#targetHost,
      allowHalfOpen: true,
    });
    upstream.on('error', () => {});
    const conn = new Link(this.#nextId++, client, upstream, (bytes) => {
      this.#bytesForwarded += bytes;
    });
    this.#live.push(conn);
    void conn.closed.then(() => {
      const index = this.#live.indexOf(conn);
      if (index >= 0) this.#live.splice(index, 1);
    });
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(conn);
    }
    this.#waiters.clear();
  }
}

/** Starts a {@link FaultProxy} listening on 127.0.0.1. */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  // Half-open sockets let a FIN travel through in one direction while data still flows back.
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort ?? 0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new FaultProxyImpl(server, options);
}
