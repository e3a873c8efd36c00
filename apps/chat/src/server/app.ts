import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { type Logger, ProbeServer } from '@probe/server';
import type { ChatSchema } from '../shared/schema.js';
import { authenticateChat, type ChatUser } from './auth.js';
import { Chat, type ChatOptions, type ChatProbeServer } from './chat.js';
import type { ChatRedis } from './chat-redis.js';
import { checkRateLimit } from './rate-limit.js';
import { SharedChat } from './shared-chat.js';
import { serveStatic } from './static.js';
import { consoleLogger, prometheusMetrics } from './telemetry.js';

/** WebSocket path of the Probe server; the web client connects to it on its own origin. */
export const PROBE_PATH = '/probe';

/**
 * Short probe settings so that a cut connection is noticed within ~4 s and people can watch
 * detection, reconnect and replay happen. Production defaults are 10 s + 5 s.
 */
export const DEMO_PROBE = { probeIntervalMs: 2000, probeTimeoutMs: 2000, sessionTtlMs: 120_000 };

/**
 * Cluster settings: a node says it is alive every 300 ms, so a killed node's sessions are
 * taken over after about 1 s (three missed heartbeats) instead of 3 s, and a node taking a
 * session over waits at most 1 s for the previous one to let go. Client messages are
 * acknowledged within 200 ms (default 20 ms): a node killed just after it stored a line has
 * then usually not acknowledged it yet, so the demo shows the next node receiving it again,
 * marked `redelivered`, and storing it once. Presence entries are refreshed every 2 s (see
 * `SharedChatOptions.presenceRefreshMs`).
 */
export const DEMO_CLUSTER = {
  heartbeatMs: 300,
  handoverTimeoutMs: 1000,
  ackDelayMs: 200,
  presenceRefreshMs: 2000,
};

export interface ChatServerOptions extends ChatOptions {
  /** @default 3000; 0 picks a free port. */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Folder of the built web client (`dist/web`). Without it only the API and WebSocket work. */
  webRoot?: string;
  /** Probe settings; see {@link DEMO_PROBE}. */
  probe?: Partial<typeof DEMO_PROBE>;
  /**
   * A Redis URL: run as one node of a cluster. Sessions (`RedisSessionStore`), history and
   * presence are shared with every node using the same Redis; without it everything is in
   * this process's memory.
   */
  redisUrl?: string | undefined;
  /** Cluster: the name the page shows ("node A"). @default the start of the node id */
  nodeName?: string | undefined;
  /** Cluster: heartbeat, handover and acknowledgement settings; see {@link DEMO_CLUSTER}. */
  cluster?: Partial<typeof DEMO_CLUSTER>;
  /**
   * Cluster: called when a page presses "Restart this node" (after `close()` the process
   * should exit and be started again). Without it the request is refused.
   */
  onRestartRequest?: (() => void) | undefined;
  /**
   * Where Probe (and the chat) log, pino-compatible: `pino()` fits.
   * @default warnings and errors on the console
   */
  logger?: Logger | undefined;
  /**
   * Serve Probe's metrics at `GET /metrics` in the Prometheus text format.
   * @default true
   */
  metrics?: boolean | undefined;
}

export interface ChatServer<C extends Chat | SharedChat = Chat> {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  readonly probe: ChatProbeServer;
  /** In memory ({@link Chat}), or shared through Redis with the other nodes ({@link SharedChat}). */
  readonly chat: C;
  /** With `redisUrl`: this node, as the page shows it. */
  readonly node: { readonly name: string; readonly id: string } | null;
  /**
   * Stops. A node of a cluster first finishes storing and broadcasting what it received, then
   * hands its sessions over to the other nodes (`server.close()`).
   */
  close(): Promise<void>;
}

/** Starts the demo: one HTTP server for the web client, a tiny JSON API and the WebSocket. */
export async function startChatServer(
  options: ChatServerOptions & { redisUrl: string },
): Promise<ChatServer<SharedChat>>;
export async function startChatServer(
  options?: ChatServerOptions & { redisUrl?: undefined },
): Promise<ChatServer<Chat>>;
/** `chat` is a {@link SharedChat} exactly when `redisUrl` is set. */
export async function startChatServer(
  options: ChatServerOptions,
): Promise<ChatServer<Chat | SharedChat>>;
export async function startChatServer(
  options: ChatServerOptions = {},
): Promise<ChatServer<Chat | SharedChat>> {
  const { port = 3000, host = '127.0.0.1', redisUrl } = options;
  // Before anything is started, so a bad option leaves nothing running.
  if (options.rateLimit) checkRateLimit(options.rateLimit);
  const webRoot = options.webRoot === undefined ? undefined : resolve(options.webRoot);
  const cluster = { ...DEMO_CLUSTER, ...options.cluster };
  const logger = options.logger ?? consoleLogger({ level: 'warn' });
  let store: import('@probe/redis').RedisSessionStore | undefined;
  let redis: ChatRedis | undefined;
  if (redisUrl !== undefined) {
    // Loaded only for a cluster: the single-node demo never loads a Redis client.
    const [{ RedisSessionStore }, { ChatRedis }] = await Promise.all([
      import('@probe/redis'),
      import('./chat-redis.js'),
    ]);
    store = new RedisSessionStore({ url: redisUrl, heartbeatMs: cluster.heartbeatMs, logger });
    redis = new ChatRedis(redisUrl);
  }
  const metrics = options.metrics === false ? null : prometheusMetrics();
  const http = createServer();
  const probe: ChatProbeServer = new ProbeServer<ChatUser, unknown, unknown, ChatSchema>({
    ...DEMO_PROBE,
    ...options.probe,
    ...(store
      ? { store, handoverTimeoutMs: cluster.handoverTimeoutMs, ackDelayMs: cluster.ackDelayMs }
      : {}),
    server: http,
    path: PROBE_PATH,
    authenticate: authenticateChat,
    // Refused connections (at info: in the cluster demo a refused resume, while the session
    // is still moving, is worth seeing), sessions (debug), and handler errors: no 'error'
    // listener here, so Probe logs them at error.
    logger,
    ...(metrics ? { meterProvider: metrics.meterProvider } : {}),
  });
  const node = store
    ? { name: options.nodeName ?? probe.nodeId.slice(0, 6), id: probe.nodeId }
    : null;
  const chat =
    redis && node
      ? new SharedChat(probe, redis, {
          ...options,
          nodeName: node.name,
          presenceRefreshMs: cluster.presenceRefreshMs,
          onRestartRequest: options.onRestartRequest,
        })
      : new Chat(probe, options);

  /** What lives beside the HTTP server: the Redis connections and the metrics. */
  async function stopOutside(): Promise<void> {
    await Promise.allSettled([store?.close(), redis?.close(), metrics?.shutdown()]);
  }
  if (store && redis) {
    try {
      await Promise.all([probe.ready(), redis.connect()]);
    } catch (error) {
      chat.stop();
      await probe.close().catch(() => {});
      await stopOutside();
      throw new Error(`cannot reach Redis at ${redisUrl}: ${String(error)}`);
    }
  }

  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/api/info' && request.method === 'GET') {
      json(response, 200, {
        rooms: await chat.roomSummaries(),
        probe: {
          probeIntervalMs: probe.options.probeIntervalMs,
          probeTimeoutMs: probe.options.probeTimeoutMs,
          sessionTtlMs: probe.options.sessionTtlMs,
        },
        sessions: probe.stats().sessions,
        ...(chat instanceof SharedChat
          ? { node: { name: chat.nodeName, id: probe.nodeId }, redelivered: chat.redelivered }
          : {}),
      });
      return;
    }
    if (path === '/metrics' && metrics && request.method === 'GET') {
      metrics.handle(request, response);
      return;
    }
    if (path === '/healthz') {
      json(response, 200, { ok: true });
      return;
    }
    if (webRoot && (await serveStatic(webRoot, request, response))) return;
    if (path === '/' && !(webRoot && existsSync(webRoot))) {
      response.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('The web client is not built: run `pnpm --filter @probe/chat build`.\n');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
  }

  await new Promise<void>((resolveListen, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolveListen();
    });
  }).catch(async (error: unknown) => {
    chat.stop();
    await probe.close().catch(() => {});
    await stopOutside();
    throw error;
  });
  const address = http.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${shownHost}:${address.port}/`,
    port: address.port,
    probe,
    chat,
    node,
    async close() {
      chat.stop();
      // Everything received so far is stored and broadcast before the sessions move: the
      // close starts in the same turn, so nothing new arrives in between.
      if (chat instanceof SharedChat) await chat.idle();
      await probe.close();
      // Sessions that ended meanwhile (their clients closed) leave their rooms before Redis goes.
      if (chat instanceof SharedChat) await chat.idle();
      await stopOutside();
      http.closeAllConnections();
      await new Promise<void>((done) => http.close(() => done()));
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  response.end(text);
}
