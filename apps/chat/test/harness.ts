import { ProbeClient, type ProbeClientOptions } from '@probe/client';
import { waitFor } from '@probe/testkit';
import {
  type ChatServer,
  type ChatServerOptions,
  PROBE_PATH,
  startChatServer,
} from '../src/server/app.js';
import type { ClientMessage, ServerMessage } from '../src/shared/messages.js';

/** Short probe settings: a dead path is noticed in well under a second. */
export const FAST_PROBE = { probeIntervalMs: 200, probeTimeoutMs: 200, sessionTtlMs: 30_000 };
export const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 100, connectTimeoutMs: 1500 };

/** A ProbeClient that records everything the chat server sends it. */
export class ChatTestClient {
  readonly received: ServerMessage[] = [];
  readonly states: string[] = [];

  constructor(readonly client: ProbeClient<ServerMessage, ClientMessage>) {
    client.on('message', (message) => this.received.push(message));
    client.on('state', (state) => this.states.push(state));
  }

  send(message: ClientMessage): void {
    this.client.send(message);
  }

  /** Messages of one type, in arrival order. */
  all<T extends ServerMessage['type']>(type: T): Extract<ServerMessage, { type: T }>[] {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** Waits for a message of `type` that satisfies `match`, returns the first such. */
  next<T extends ServerMessage['type']>(
    type: T,
    match: (message: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    return waitFor(() => this.all(type).find(match), { timeoutMs, message: `a '${type}' message` });
  }

  /** Texts of the chat messages received live for `room`, in order. */
  texts(room: string): string[] {
    return this.all('message')
      .filter((m) => m.message.room === room)
      .map((m) => m.message.text);
  }
}

export interface ChatHarness {
  server: ChatServer;
  /** `ws://127.0.0.1:port/probe` */
  wsUrl: string;
  connect(nick: string, options?: ProbeClientOptions & { url?: string }): ChatTestClient;
  close(): Promise<void>;
}

/** A chat server on 127.0.0.1 (any free port) with fast probes. Close it in afterEach. */
export async function startChatHarness(
  options: Omit<ChatServerOptions, 'redisUrl'> = {},
): Promise<ChatHarness> {
  const server = await startChatServer({
    port: 0,
    host: '127.0.0.1',
    ...options,
    probe: { ...FAST_PROBE, ...options.probe },
  });
  const wsUrl = `ws://127.0.0.1:${server.port}${PROBE_PATH}`;
  const clients: ChatTestClient[] = [];
  return {
    server,
    wsUrl,
    connect(nick, { url, ...clientOptions } = {}) {
      const client = new ProbeClient<ServerMessage, ClientMessage>(url ?? wsUrl, {
        auth: { nick },
        ...clientOptions,
        reconnect: { ...FAST_RECONNECT, ...clientOptions.reconnect },
      });
      const test = new ChatTestClient(client);
      clients.push(test);
      return test;
    },
    async close() {
      for (const test of clients) test.client.close();
      await server.close();
    },
  };
}
