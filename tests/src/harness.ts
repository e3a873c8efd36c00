import { type ClientState, ProbeClient, type ProbeClientOptions } from '@probe/client';
import {
  type ConnectionErrorInfo,
  ProbeServer,
  type ProbeServerOptions,
  type Session,
} from '@probe/server';
import { createFaultProxy, type FaultProxy } from '@probe/testkit';

/** Short probe settings so tests see detection in well under a second. */
export const FAST = { probeIntervalMs: 200, probeTimeoutMs: 200 } as const;

/** Fast reconnects for tests; the backoff formula itself is tested in @probe/client. */
export const FAST_RECONNECT = {
  initialDelayMs: 20,
  maxDelayMs: 100,
  connectTimeoutMs: 1500,
} as const;

export interface Harness {
  server: ProbeServer;
  proxy: FaultProxy;
  /** ws:// URL through the fault proxy. */
  url: string;
  /** ws:// URL straight to the server. */
  directUrl: string;
  sessions: Session[];
  /** The server's `'connection-error'` log entries. */
  errors: ConnectionErrorInfo[];
  client(options?: ProbeClientOptions): ProbeClient;
  close(): Promise<void>;
}

/** A real server on 127.0.0.1 with a fault proxy in front of it. Close it in afterEach. */
export async function startHarness(options: ProbeServerOptions = {}): Promise<Harness> {
  const server = new ProbeServer({ ...FAST, ...options });
  const sessions: Session[] = [];
  server.on('session', (session) => sessions.push(session));
  const errors: ConnectionErrorInfo[] = [];
  server.on('connection-error', (info) => errors.push(info));
  const { port } = await server.listen(0, '127.0.0.1');
  const proxy = await createFaultProxy({ targetPort: port });
  const clients: ProbeClient[] = [];
  return {
    server,
    proxy,
    url: proxy.url('/'),
    directUrl: `ws://127.0.0.1:${port}/`,
    sessions,
    errors,
    client(clientOptions = {}) {
      const client = new ProbeClient(proxy.url('/'), {
        ...clientOptions,
        reconnect: { ...FAST_RECONNECT, ...clientOptions.reconnect },
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const client of clients) client.close();
      await proxy.close();
      await server.close();
    },
  };
}

/** Records every state a client goes through. */
export function recordStates(client: ProbeClient): ClientState[] {
  const states: ClientState[] = [client.state];
  client.on('state', (state) => states.push(state));
  return states;
}

/** Resolves when the client reaches `state`, rejects after `timeoutMs`. */
export function waitForState(
  client: ProbeClient,
  state: ClientState,
  timeoutMs = 5000,
): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('state', listener);
      reject(
        new Error(`client did not reach '${state}' within ${timeoutMs} ms (is '${client.state}')`),
      );
    }, timeoutMs);
    const listener = (next: ClientState) => {
      if (next !== state) return;
      clearTimeout(timer);
      client.off('state', listener);
      resolve();
    };
    client.on('state', listener);
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
