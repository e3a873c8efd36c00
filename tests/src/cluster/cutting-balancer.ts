// A round-robin TCP balancer on 127.0.0.1, as @probe/testkit's, that can also cut the
// connections it carries: both sides are reset at once, as when a path between a client and
// a node breaks (a NAT forgetting the flow, a load balancer restarting). Optionally it sends
// each new connection of a member (named by the upgrade path `/m/<member>`) to a node other
// than the one its previous connection went to, so that every resume is a resume on another
// node.

import net, { type Server, type Socket } from 'node:net';

const HOST = '127.0.0.1';
/** A target that has not accepted a connection by then counts as down. */
const CONNECT_TIMEOUT_MS = 2_000;

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly port: number;
}

export class CuttingBalancer {
  readonly #pairs = new Set<Pair>();
  readonly #clients = new Set<Socket>();
  /** The target port of each member's last connection (when steering). */
  readonly #lastPort = new Map<number, number>();
  #next = 0;
  #closing: Promise<void> | undefined;
  /** Connections cut so far. */
  cuts = 0;

  private constructor(
    private readonly server: Server,
    private readonly targets: () => readonly number[],
    private readonly steer: boolean,
    readonly port: number,
  ) {
    server.on('connection', (socket) => void this.#accept(socket));
    server.on('error', () => {});
  }

  /**
   * Listens on a free port; each new connection goes to the next of `targets()` in turn. With
   * `steer`, a member's new connection goes to another target than its previous one, if any.
   */
  static async start(
    targets: () => readonly number[],
    options: { steer?: boolean } = {},
  ): Promise<CuttingBalancer> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as net.AddressInfo;
    return new CuttingBalancer(server, targets, options.steer ?? false, port);
  }

  url(path = '/'): string {
    return `ws://${HOST}:${this.port}${path}`;
  }

  /** Connections carried now. */
  get live(): number {
    return this.#pairs.size;
  }

  /**
   * Resets both sides of about `fraction` of the connections carried now (each one with that
   * probability, drawn with `random`). @returns how many were cut.
   */
  cut(fraction: number, random: () => number = Math.random): number {
    let cut = 0;
    for (const pair of [...this.#pairs]) {
      if (random() >= fraction) continue;
      this.#pairs.delete(pair);
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
      cut++;
    }
    this.cuts += cut;
    return cut;
  }

  /** Stops listening and destroys every connection. Safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const socket of this.#clients) socket.destroy();
      for (const { upstream } of this.#pairs) upstream.destroy();
      await closed;
    })();
    return this.#closing;
  }

  async #accept(client: Socket): Promise<void> {
    client.on('error', () => {});
    if (this.#closing) {
      client.destroy();
      return;
    }
    this.#clients.add(client);
    client.once('close', () => this.#clients.delete(client));
    // The start of the upgrade request names the member; it is passed on before anything else.
    const first = this.steer ? await firstChunk(client) : undefined;
    if (client.destroyed || this.#closing) return;
    const member = first ? memberOf(first) : undefined;
    let targets = [...this.targets()];
    const last = member === undefined ? undefined : this.#lastPort.get(member);
    if (last !== undefined && targets.length > 1) targets = targets.filter((p) => p !== last);
    const start = this.#next++;
    for (let i = 0; i < targets.length; i++) {
      const port = targets[(start + i) % targets.length]!;
      const upstream = await connect(port);
      if (!upstream) continue;
      if (client.destroyed || this.#closing) {
        upstream.destroy();
        return;
      }
      if (member !== undefined) this.#lastPort.set(member, port);
      if (first) upstream.write(first);
      const pair = { client, upstream, port };
      this.#pairs.add(pair);
      const forget = () => this.#pairs.delete(pair);
      client.once('close', forget);
      upstream.once('close', forget);
      join(client, upstream);
      return;
    }
    client.destroy();
  }
}

/** The first bytes `socket` sends (paused after them), or undefined if it closes first. */
function firstChunk(socket: Socket): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      socket.pause();
      socket.off('close', onClose);
      resolve(chunk);
    };
    const onClose = () => {
      socket.off('data', onData);
      resolve(undefined);
    };
    socket.once('data', onData);
    socket.once('close', onClose);
  });
}

/** The member an upgrade request names (`GET /m/<member>`), if it does. */
function memberOf(request: Buffer): number | undefined {
  const match = /^GET \/m\/(\d+)[ ?]/.exec(request.subarray(0, 64).toString('latin1'));
  return match ? Number(match[1]) : undefined;
}

/** A connected socket to `port`, or undefined when it does not take the connection. */
function connect(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: HOST });
    const fail = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(undefined);
    };
    const timer = setTimeout(fail, CONNECT_TIMEOUT_MS);
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.on('error', () => {});
      resolve(socket);
    });
  });
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
