// The cluster demo on one machine: a redis-server of its own (temporary directory, free
// port), chat nodes as child processes sharing it, and a round-robin TCP balancer in front.
// A node that exits, however it exits, is started again after a second on the same port.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { get } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOOPBACK = '127.0.0.1';

export interface ChatClusterOptions {
  /** Node names; one node each. @default ['A', 'B'] */
  readonly names?: readonly string[];
  /** Balancer port. @default 3000; 0 picks a free one. */
  readonly port?: number;
  /** Balancer address. Nodes and Redis always listen on 127.0.0.1. @default '127.0.0.1' */
  readonly host?: string;
  /** Arguments to `node` that start one chat node. @default the built `dist/server/index.js` */
  readonly nodeArgs?: readonly string[];
  /** Extra environment of the nodes (e.g. `CHAT_WEB_ROOT`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Delay before a node that exited is started again, ms. @default 1000 */
  readonly restartDelayMs?: number;
  /** Where the launcher's and the nodes' output goes. @default console.log */
  readonly log?: (line: string) => void;
}

export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  /** Process id of the running node, undefined while it is down. */
  readonly pid: number | undefined;
  /** How many times it was started again after exiting. */
  readonly restarts: number;
  /** Resolves once the node (after its latest start) answers on its port. */
  ready(): Promise<void>;
}

export interface ChatCluster {
  /** The balancer: `http://host:port/`. */
  readonly url: string;
  readonly redisUrl: string;
  readonly nodes: readonly ClusterNode[];
  /**
   * Stops everything: nodes (SIGTERM, so they hand their sessions over, or SIGKILL with
   * `{ kill: true }`), the balancer and Redis, and removes Redis' directory.
   */
  stop(options?: { kill?: boolean }): Promise<void>;
}

/** Processes started here, killed if this process ends before `stop()`. */
const children = new Set<ChildProcess>();
const directories = new Set<string>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
});

/** Starts Redis, the nodes and the balancer; resolves once every node answers. */
export async function startChatCluster(options: ChatClusterOptions = {}): Promise<ChatCluster> {
  const log = options.log ?? ((line: string) => console.log(line));
  const redis = await startRedis(log);
  const nodes: NodeProcess[] = [];
  let balancer: Balancer | undefined;
  try {
    const nodeArgs = options.nodeArgs ?? [fileURLToPath(new URL('./index.js', import.meta.url))];
    for (const name of options.names ?? ['A', 'B']) {
      const env = {
        ...options.env,
        REDIS_URL: redis.url,
        CHAT_NODE_NAME: name,
        PORT: String(await freePort()),
        HOST: LOOPBACK,
        CHAT_EXIT_WITH_LAUNCHER: '1',
      };
      nodes.push(new NodeProcess(name, nodeArgs, env, options.restartDelayMs ?? 1000, log));
    }
    await Promise.all(nodes.map((node) => node.ready()));
    balancer = await startBalancer(
      nodes.map((node) => node.port),
      options.port ?? 3000,
      options.host ?? LOOPBACK,
    );
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop(true)));
    await redis.stop();
    throw error;
  }
  const { port, address } = balancer;
  const shownHost = address.includes(':') ? `[${address}]` : address;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}/`,
    redisUrl: redis.url,
    nodes,
    stop({ kill = false } = {}) {
      stopped ??= (async () => {
        await Promise.all(nodes.map((node) => node.stop(kill)));
        await balancer.close();
        await redis.stop();
      })();
      return stopped;
    },
  };
}

class NodeProcess implements ClusterNode {
  readonly port: number;
  restarts = 0;
  #child: ChildProcess | undefined;
  #ready: Promise<void> = Promise.resolve();
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly name: string,
    private readonly args: readonly string[],
    private readonly env: Record<string, string>,
    private readonly restartDelayMs: number,
    private readonly log: (line: string) => void,
  ) {
    this.port = Number(env.PORT);
    this.#start();
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  #start(): void {
    const child = spawn(process.execPath, [...this.args], {
      env: { ...process.env, ...this.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    children.add(child);
    const prefix = `[node ${this.name}] `;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) this.log(prefix + line);
      });
    }
    child.stdin?.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
        if (this.#stopping) return;
        const how = signal ? `was killed (${signal})` : `exited (code ${code})`;
        this.log(`node ${this.name} ${how}; starting it again in ${this.restartDelayMs / 1000} s`);
        this.#restartTimer = setTimeout(() => {
          this.restarts++;
          this.#start();
        }, this.restartDelayMs);
      });
    });
    this.#ready = waitForHealth(this.port, this.#exited, this.name);
    // Also observed by ready(); a failed start is logged, and the exit handler restarts it.
    this.#ready.then(
      () => {
        if (this.restarts > 0) this.log(`node ${this.name} is back (pid ${child.pid})`);
      },
      (error: unknown) => this.log(String(error)),
    );
  }

  async stop(kill: boolean): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child) return;
    child.kill(kill ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

/** Polls `/healthz` until it answers 200; fails if the process exits first or after 20 s. */
async function waitForHealth(port: number, exited: Promise<void>, name: string): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = performance.now() + 20_000;
  while (!gone && performance.now() < deadline) {
    if (await healthy(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`node ${name} did not start (${gone ? 'it exited' : 'no answer within 20 s'})`);
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: LOOPBACK, port, path: '/healthz', timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

// ── Redis ─────────────────────────────────────────────────────────────────────────────────

interface RedisProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** redis-server: PROBE_REDIS_SERVER, else the one on PATH. */
function redisServerPath(): string {
  const configured = process.env.PROBE_REDIS_SERVER;
  if (configured) {
    if (isExecutable(configured)) return configured;
    throw new Error(`PROBE_REDIS_SERVER is ${configured}, which is not an executable file`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  throw new Error(
    'redis-server not found: install it (Debian: apt-get install redis-server) or point PROBE_REDIS_SERVER at it',
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A redis-server of our own: free port, temporary directory, every write synced. */
async function startRedis(log: (line: string) => void): Promise<RedisProcess> {
  const bin = redisServerPath();
  const dir = mkdtempSync(join(tmpdir(), 'probe-chat-redis-'));
  directories.add(dir);
  const port = await freePort();
  const child = spawn(
    bin,
    [
      ...['--port', String(port), '--bind', LOOPBACK, '--daemonize', 'no'],
      ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  }
  let exitedEarly = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedEarly = true;
      children.delete(child);
      resolve();
    });
    child.once('error', () => {
      exitedEarly = true;
      resolve();
    });
  });
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
    directories.delete(dir);
  };
  const deadline = performance.now() + 10_000;
  while (!(await ping(port))) {
    if (exitedEarly || performance.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server did not start on port ${port}:\n${output.join('').slice(-2000)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = `redis://${LOOPBACK}:${port}`;
  log(`redis-server ${url} (data in ${dir})`);
  return { url, stop };
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: LOOPBACK });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.on('connect', () => socket.write('PING\r\n'));
  });
}

// ── Balancer ──────────────────────────────────────────────────────────────────────────────

interface Balancer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A round-robin TCP balancer: each new connection goes to the next node; a node that refuses
 * (down, restarting) is skipped for the next one. Connections stay where they are; when one
 * side closes, so does the other. No sticky sessions: a Probe client resumes on any node.
 */
async function startBalancer(
  ports: readonly number[],
  port: number,
  host: string,
): Promise<Balancer> {
  const sockets = new Set<net.Socket>();
  let next = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.once('close', () => sockets.delete(client));
    const attempt = (left: number) => {
      if (left === 0 || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = net.connect({ port: ports[next++ % ports.length]!, host: LOOPBACK });
      sockets.add(upstream);
      upstream.once('close', () => sockets.delete(upstream));
      upstream.once('error', () => attempt(left - 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        upstream.on('error', () => {});
        client.pipe(upstream).pipe(client);
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
      });
    };
    attempt(ports.length);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    address: address.address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** A port that was free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
