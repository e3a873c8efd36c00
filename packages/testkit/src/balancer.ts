import net, { type Server, type Socket } from 'node:net';

const HOST = '127.0.0.1';

export interface BalancerOptions {
  /**
   * Ports on 127.0.0.1 that new connections may go to, asked again for every connection (so
   * the caller adds and removes nodes by changing what it returns).
   */
  readonly targets: () => readonly number[];
  /** A target that has not accepted the connection by then counts as down. Default 2000. */
  readonly connectTimeoutMs?: number;
}

export interface BalancerStats {
  /** Connections accepted from clients. */
  readonly accepted: number;
  /** Connections joined to a target. */
  readonly forwarded: number;
  /** Connection attempts to a target that failed (refused, timed out); the next was tried. */
  readonly targetFailures: number;
  /** Client connections closed because no target took them. */
  readonly dropped: number;
  /** Client connections open now. */
  readonly live: number;
  /** Connections forwarded, per target port. */
  readonly byTarget: Readonly<Record<number, number>>;
}

/** A round-robin TCP load balancer on 127.0.0.1; see {@link createBalancer}. */
export interface Balancer {
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>`. */
  url(path?: string): string;
  stats(): BalancerStats;
  /** Stops listening and destroys every connection. Safe to call more than once. */
  close(): Promise<void>;
}

class BalancerImpl implements Balancer {
  readonly port: number;
  readonly #server: Server;
  readonly #options: BalancerOptions;
  /** Client-side sockets open now. */
  readonly #clients = new Set<Socket>();
  /** Target-side sockets open now. */
  readonly #upstreams = new Set<Socket>();
  #next = 0;
  #closing: Promise<void> | undefined;
  #accepted = 0;
  #forwarded = 0;
  #targetFailures = 0;
  #dropped = 0;
  readonly #byTarget: Record<number, number> = {};

  constructor(server: Server, options: BalancerOptions) {
    this.#server = server;
    this.#options = options;
    this.port = (server.address() as net.AddressInfo).port;
    server.on('connection', (socket) => void this.#accept(socket));
    // A listener error after startup (EMFILE…) must not crash the test process.
    server.on('error', () => {});
  }

  url(path = '/'): string {
    return `ws://${HOST}:${this.port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  stats(): BalancerStats {
    return {
      accepted: this.#accepted,
      forwarded: this.#forwarded,
      targetFailures: this.#targetFailures,
      dropped: this.#dropped,
      live: this.#clients.size,
      byTarget: { ...this.#byTarget },
    };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of [...this.#clients, ...this.#upstreams]) socket.destroy();
      await closed;
    })();
    return this.#closing;
  }

  async #accept(client: Socket): Promise<void> {
    // Before anything else: an RST from the client must never become an unhandled error.
    client.on('error', () => {});
    if (this.#closing) {
      client.destroy();
      return;
    }
    this.#accepted++;
    this.#clients.add(client);
    client.once('close', () => this.#clients.delete(client));
    // Bytes the client sends meanwhile stay buffered in the socket: nothing reads it yet.
    const targets = [...this.#options.targets()];
    const start = this.#next++;
    for (let i = 0; i < targets.length; i++) {
      const port = targets[(start + i) % targets.length]!;
      const upstream = await this.#connect(port);
      if (!upstream) {
        this.#targetFailures++;
        continue;
      }
      if (client.destroyed || this.#closing) {
        upstream.destroy();
        return;
      }
      this.#forwarded++;
      this.#byTarget[port] = (this.#byTarget[port] ?? 0) + 1;
      this.#upstreams.add(upstream);
      upstream.once('close', () => this.#upstreams.delete(upstream));
      join(client, upstream);
      return;
    }
    this.#dropped++;
    client.destroy();
  }

  /** Resolves with a connected socket, or undefined when the target does not take it. */
  #connect(port: number): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const socket = net.connect({ port, host: HOST });
      const fail = () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(undefined);
      };
      const timer = setTimeout(fail, this.#options.connectTimeoutMs ?? 2000);
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }
}

/**
 * Pipes bytes both ways; when one side closes, the other goes too: reset if the first side
 * failed, else ended once its pending bytes are written (destroyed if that takes too long).
 */
function join(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const follow = (from: Socket, to: Socket) =>
    from.once('close', (hadError) => {
      if (to.destroyed) return;
      if (hadError) {
        to.resetAndDestroy();
        return;
      }
      to.end();
      setTimeout(() => to.destroy(), 1_000).unref();
    });
  follow(a, b);
  follow(b, a);
}

/**
 * Starts a TCP load balancer on 127.0.0.1 that sends each new connection to the next target
 * port in turn. A target that refuses (or does not accept within `connectTimeoutMs`) is
 * skipped for the next; when none takes it, the client connection is closed. Live connections
 * stay where they are when the target list changes.
 * @example
 * const live = new Set([portA, portB]);
 * const balancer = await createBalancer({ targets: () => [...live] });
 * new ProbeClient(balancer.url('/'));
 * live.delete(portA); // new connections go to portB only
 */
export async function createBalancer(options: BalancerOptions): Promise<Balancer> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return new BalancerImpl(server, options);
}
