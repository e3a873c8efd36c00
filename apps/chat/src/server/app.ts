import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { ProbeServer } from '@probe/server';
import type { ServerMessage } from '../shared/messages.js';
import { authenticateChat, type ChatUser } from './auth.js';
import { Chat, type ChatOptions, type ChatProbeServer } from './chat.js';
import { checkRateLimit } from './rate-limit.js';
import { serveStatic } from './static.js';

/** WebSocket path of the Probe server; the web client connects to it on its own origin. */
export const PROBE_PATH = '/probe';

/**
 * Short probe settings so that a cut connection is noticed within ~4 s and people can watch
 * detection, reconnect and replay happen. Production defaults are 10 s + 5 s.
 */
export const DEMO_PROBE = { probeIntervalMs: 2000, probeTimeoutMs: 2000, sessionTtlMs: 120_000 };

export interface ChatServerOptions extends ChatOptions {
  /** @default 3000; 0 picks a free port. */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Folder of the built web client (`dist/web`). Without it only the API and WebSocket work. */
  webRoot?: string;
  /** Probe settings; see {@link DEMO_PROBE}. */
  probe?: Partial<typeof DEMO_PROBE>;
}

export interface ChatServer {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  readonly probe: ChatProbeServer;
  readonly chat: Chat;
  close(): Promise<void>;
}

/** Starts the demo: one HTTP server for the web client, a tiny JSON API and the WebSocket. */
export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const { port = 3000, host = '127.0.0.1' } = options;
  // Before anything is started, so a bad option leaves nothing running.
  if (options.rateLimit) checkRateLimit(options.rateLimit);
  const webRoot = options.webRoot === undefined ? undefined : resolve(options.webRoot);
  const http = createServer();
  const probe: ChatProbeServer = new ProbeServer<ChatUser, unknown, ServerMessage>({
    ...DEMO_PROBE,
    ...options.probe,
    server: http,
    path: PROBE_PATH,
    authenticate: authenticateChat,
  });
  probe.on('error', (error) => console.error('[chat] handler error:', error));
  const chat = new Chat(probe, options);

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
        rooms: chat.roomSummaries(),
        probe: {
          probeIntervalMs: probe.options.probeIntervalMs,
          probeTimeoutMs: probe.options.probeTimeoutMs,
          sessionTtlMs: probe.options.sessionTtlMs,
        },
        sessions: probe.stats().sessions,
      });
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
  });
  const address = http.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${shownHost}:${address.port}/`,
    port: address.port,
    probe,
    chat,
    async close() {
      chat.stop();
      await probe.close();
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
