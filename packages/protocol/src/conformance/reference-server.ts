/**
 * The reference server set up for the requirements of an exchange, for the vector tests. The
 * server and `ws` are loaded at run time from the workspace (vitest resolves `@probe/server` to
 * its source), so `@probe/protocol` itself depends on neither.
 */
import { createRequire } from 'node:module';
import type { WsConstructor } from './socket.js';

interface ReferenceSession {
  on(event: 'message', listener: (data: unknown) => void): unknown;
  send(data: unknown): boolean;
  close(): void;
}

interface ReferenceServer {
  on(event: 'session', listener: (session: ReferenceSession) => void): unknown;
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

type ServerModule = {
  ProbeServer: new (options: Record<string, unknown>) => ReferenceServer;
};

type RedisModule = {
  RedisSessionStore: new (options: { url: string; keyPrefix: string }) => unknown;
};

// Variables, so that the type checker does not look for these packages.
const SERVER_MODULE = '@probe/server';
const REDIS_MODULE = '@probe/redis';

/**
 * Options every test server gets: probes often enough for the probe exchanges to be quick, a
 * probe timeout no exchange comes near, and the handshake timeout the runner is told about.
 */
export const BASE_OPTIONS = {
  probeIntervalMs: 300,
  probeTimeoutMs: 1000,
  handshakeTimeoutMs: 500,
} as const;

/**
 * Exchanges the reference server does not pass, with what it does instead. PROTOCOL.md states
 * the rule; once the server follows it, these exchanges pass and their entries go.
 */
export const DEVIATIONS: ReadonlyMap<string, string> = new Map();

/** The same, only when sessions are kept in a shared store (Redis). */
export const SHARED_STORE_DEVIATIONS: ReadonlyMap<string, string> = new Map();

export interface StartedServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts a reference server on 127.0.0.1 that meets `requirements` (the names of
 * exchanges.json): `name=value` sets the server option `name`; the others set up the
 * application or are the server's defaults. With `shared`, its sessions live in Redis.
 */
export async function startReferenceServer(
  requirements: readonly string[],
  shared: { readonly redisUrl: string; readonly keyPrefix: string } | null = null,
): Promise<StartedServer> {
  const options: Record<string, unknown> = { ...BASE_OPTIONS };
  if (shared !== null) {
    const { RedisSessionStore } = (await import(/* @vite-ignore */ REDIS_MODULE)) as RedisModule;
    options.store = new RedisSessionStore({ url: shared.redisUrl, keyPrefix: shared.keyPrefix });
  }
  let path = '/';
  let echo = false;
  let closeOnRequest = false;
  for (const requirement of requirements) {
    const [name, value] = requirement.split('=', 2) as [string, string | undefined];
    if (value !== undefined) {
      options[name] = /^\d+$/.test(value) ? Number(value) : value;
      if (name === 'path') path = value;
    } else if (name === 'echo') echo = true;
    else if (name === 'close-on-request') closeOnRequest = true;
    else if (name === 'deny-auth') {
      options.authenticate = (auth: unknown) => {
        if (auth === 'deny') throw new Error('this client is denied');
        return auth;
      };
    } else if (!['memory-sessions', 'same-origin', 'any-path'].includes(name)) {
      throw new Error(`unknown requirement ${requirement}`);
    }
  }
  const { ProbeServer } = (await import(/* @vite-ignore */ SERVER_MODULE)) as ServerModule;
  const server = new ProbeServer(options);
  server.on('session', (session) => {
    session.on('message', (data) => {
      if (closeOnRequest && data === 'close') session.close();
      else if (echo) session.send(data);
    });
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { url: `ws://127.0.0.1:${port}${path}`, close: () => server.close() };
}

/** The `ws` package the server depends on, for the runner's client side. */
export function loadWs(): WsConstructor {
  const require = createRequire(new URL('../../../server/package.json', import.meta.url));
  return (require('ws') as { WebSocket: WsConstructor }).WebSocket;
}

/** Where `ws` is installed, for running the standalone script from a directory that has it. */
export function wsPackageDirectory(): string {
  return new URL('../../../server/', import.meta.url).pathname;
}
