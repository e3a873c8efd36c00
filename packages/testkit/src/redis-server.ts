// A real redis-server per test run, on a free loopback port with its own data directory, plus
// the few RESP commands tests need to look inside it. No Redis client library: a command is a
// short-lived TCP connection and a few lines of RESP.

import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { sleep } from './wait.js';

const HOST = '127.0.0.1';
/** Log lines kept per process, for the error when it does not start. */
const LOG_LINES = 40;
/** Tries before giving up on a port another process took first. */
const PORT_TRIES = 5;

export interface RedisServerOptions {
  /** Extra redis-server arguments, after the defaults (e.g. `['--maxmemory', '64mb']`). */
  readonly args?: readonly string[];
  /** How long to wait for the first PING answer, in ms. Default 10000. */
  readonly startTimeoutMs?: number;
}

/** A running (or stopped, or killed) redis-server started by {@link startRedis}. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its data directory: the append-only file lives here across restarts. */
  readonly dir: string;
  /** True from start (or restart) until the process exits. */
  readonly running: boolean;
  /** The current process id, or undefined while it is down. */
  readonly pid: number | undefined;
  /**
   * Sends `signal` (default SIGKILL). For a signal that ends the process it resolves once the
   * process has exited; for SIGSTOP, SIGCONT and the like it returns at once.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Asks Redis to shut down cleanly (`SHUTDOWN`: the AOF is synced) and waits for the exit. */
  shutdown(): Promise<void>;
  /**
   * Starts Redis again on the same port and directory, so it loads what the append-only file
   * holds. Kills the running process first, if any.
   */
  restart(): Promise<void>;
  /** Kills the process and removes the directory. Safe to call more than once. */
  stop(): Promise<void>;
  /** Sends one command and returns the decoded reply. */
  command(...args: Array<string | number>): Promise<RespValue>;
  dbsize(): Promise<number>;
  /** `INFO <section>` as a map of its `field:value` lines. */
  info(section?: string): Promise<Record<string, string>>;
  keys(pattern?: string): Promise<string[]>;
}

/** A decoded RESP2 reply. Bulk strings are decoded as UTF-8; error replies are thrown. */
export type RespValue = string | number | null | RespValue[];

/** Processes started here that are still alive, and their directories, for the exit hook. */
const liveProcesses = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hooked = false;

function reapAll(): void {
  for (const child of liveProcesses) child.kill('SIGKILL');
  liveProcesses.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

/**
 * Kills every redis-server started here when this process ends: on a normal exit, and on
 * SIGINT/SIGTERM/SIGHUP (a test runner stops its workers with SIGTERM, which skips 'exit').
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', reapAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      reapAll();
      // Ours was the only handler: let the signal do what it would have done without it.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** The redis-server binary: PROBE_REDIS_SERVER, else `redis-server` on PATH. */
export function redisServerPath(): string {
  const configured = process.env.PROBE_REDIS_SERVER;
  if (configured) {
    if (isExecutable(configured)) return configured;
    throw new Error(`PROBE_REDIS_SERVER is ${configured}, which is not an executable file`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'redis-server');
    if (dir && isExecutable(candidate)) return candidate;
  }
  throw new Error(
    'redis-server not found on PATH: install it (Debian: apt-get install redis-server) ' +
      'or point PROBE_REDIS_SERVER at the binary',
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

/** A port that was free on 127.0.0.1 a moment ago (Redis cannot pick one itself). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

class PortTakenError extends Error {}

class RedisServerImpl implements RedisServer {
  readonly url: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly options: RedisServerOptions,
  ) {
    this.url = `redis://${HOST}:${port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns redis-server and waits for PING. @throws {PortTakenError} when the port is in use. */
  async launch(): Promise<void> {
    const args = [
      ...['--port', String(this.port), '--bind', HOST, '--daemonize', 'no'],
      // Durable on every write, so a restart shows exactly what clients were told was stored.
      ...['--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir],
      ...(this.options.args ?? []),
    ];
    const child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    const keep = (chunk: Buffer) => {
      log.push(...chunk.toString().split('\n').filter(Boolean));
      log.splice(0, Math.max(0, log.length - LOG_LINES));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    // Neither the process nor its pipes may keep a test process alive; the exit hook reaps it.
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as net.Socket | null)?.unref();
    let exit: string | undefined;
    this.#child = child;
    liveProcesses.add(child);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exit = signal ? `signal ${signal}` : `code ${code}`;
        liveProcesses.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('error', (error) => {
        exit = error.message;
        liveProcesses.delete(child);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });

    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    const deadline = performance.now() + timeoutMs;
    while (exit === undefined && performance.now() < deadline) {
      const pong = await respCommand(this.port, ['PING'], 1_000).catch(() => undefined);
      if (pong === 'PONG' && exit === undefined) return;
      await sleep(25);
    }
    const lines = log.join('\n');
    if (exit === undefined) {
      child.kill('SIGKILL');
      await this.#exited;
    }
    if (lines.includes('Address already in use')) throw new PortTakenError(lines);
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms ` +
        `(${exit ?? 'killed'}); its last output:\n${lines}`,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill(signal);
    if (['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGABRT'].includes(signal)) {
      await this.#waitForExit(`exit after ${signal}`);
    }
  }

  async shutdown(): Promise<void> {
    if (!this.#child) return;
    // On success Redis closes the connection without a reply; an error reply means it refused.
    await respCommand(this.port, ['SHUTDOWN'], 10_000).catch((error: unknown) => {
      if (!(error instanceof ConnectionClosedError)) throw error;
    });
    await this.#waitForExit('exit after SHUTDOWN');
  }

  async restart(): Promise<void> {
    if (this.#stopped) throw new Error('redis-server: restart() after stop()');
    await this.kill('SIGKILL');
    // The port was ours a moment ago, but a client's outgoing connection may hold it briefly.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch();
      } catch (error) {
        if (!(error instanceof PortTakenError) || attempt >= PORT_TRIES) throw error;
        await sleep(200 * attempt);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }

  command(...args: Array<string | number>): Promise<RespValue> {
    return respCommand(this.port, args.map(String));
  }

  async dbsize(): Promise<number> {
    return Number(await this.command('DBSIZE'));
  }

  async info(section?: string): Promise<Record<string, string>> {
    const text = String(await this.command('INFO', ...(section ? [section] : [])));
    const fields: Record<string, string> = {};
    for (const line of text.split('\r\n')) {
      const colon = line.indexOf(':');
      if (line.startsWith('#') || colon < 0) continue;
      fields[line.slice(0, colon)] = line.slice(colon + 1);
    }
    return fields;
  }

  async keys(pattern = '*'): Promise<string[]> {
    const reply = await this.command('KEYS', pattern);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  async #waitForExit(what: string, timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`redis-server: no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    await Promise.race([this.#exited, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * Starts a real redis-server on a free 127.0.0.1 port, with append-only persistence synced on
 * every write in a fresh temporary directory, and resolves once it answers PING. Call `stop()`
 * when done; whatever is left running is killed when the test process exits.
 * @throws {Error} naming `apt-get install redis-server` and PROBE_REDIS_SERVER when there is
 * no redis-server, or with its last output when it does not start.
 * @example
 * const redis = await startRedis();
 * await redis.command('SET', 'k', 'v');
 * await redis.restart(); // same port, same data
 * await redis.stop();
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const bin = redisServerPath();
  hookExit();
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'probe-redis-'));
    liveDirs.add(dir);
    const server = new RedisServerImpl(await freePort(), dir, bin, options);
    try {
      await server.launch();
      return server;
    } catch (error) {
      await server.stop();
      if (!(error instanceof PortTakenError) || attempt >= PORT_TRIES) throw error;
    }
  }
}

class ConnectionClosedError extends Error {}

/**
 * Sends one command to the Redis server on 127.0.0.1:`port` over a new connection and
 * resolves with its decoded reply.
 * @throws {Error} for an error reply, a connection closed before the reply, or a timeout.
 */
export function respCommand(
  port: number,
  args: readonly string[],
  timeoutMs = 5_000,
): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: HOST });
    let buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, value?: RespValue) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const timer = setTimeout(
      () => finish(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('error', (error) => finish(error));
    socket.on('close', () =>
      finish(new ConnectionClosedError(`redis ${args[0]}: connection closed before a reply`)),
    );
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const parsed = parseReply(buffer, 0);
        if (parsed) finish(undefined, parsed[0]);
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.write(encodeCommand(args));
  });
}

function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/** One reply starting at `offset`: the value and where the next begins, or undefined if cut. */
function parseReply(buffer: Buffer, offset: number): [RespValue, number] | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (String.fromCharCode(buffer[offset]!)) {
    case '+':
      return [line, next];
    case '-':
      throw new Error(`redis: ${line}`);
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return undefined;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, at);
        if (!item) return undefined;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`redis: unexpected reply ${JSON.stringify(line.slice(0, 40))}`);
  }
}
