import { ProbeClient, type ProbeClientOptions, type UntypedSchema } from '@probe/client';
import { waitFor } from '@probe/testkit';
import {
  type ChatServer,
  type ChatServerOptions,
  PROBE_PATH,
  startChatServer,
} from '../src/server/app.js';
import type { ChatSchema, Joined, RoomName, ServerEventName } from '../src/shared/schema.js';

/** Short probe settings: a dead path is noticed in well under a second. */
export const FAST_PROBE = { probeIntervalMs: 200, probeTimeoutMs: 200, sessionTtlMs: 30_000 };
export const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 100, connectTimeoutMs: 1500 };

export type ChatClient = ProbeClient<unknown, unknown, ChatSchema>;
type ServerEvents = ChatSchema['serverEvents'];

/** Every event the server sends; the check below fails to compile when one is missing. */
const SERVER_EVENTS = [
  'welcome',
  'posted',
  'presence',
  'left',
  'rooms',
  'typing',
  'link',
  'resumed',
  'node',
  'rejected',
] as const satisfies readonly ServerEventName[];
const everyEventListed: [Exclude<ServerEventName, (typeof SERVER_EVENTS)[number]>] extends [never]
  ? true
  : never = true;
void everyEventListed;

/** A ProbeClient that records every event the chat server sends it. */
export class ChatTestClient {
  readonly received: { event: ServerEventName; payload: unknown }[] = [];
  readonly states: string[] = [];

  constructor(readonly client: ChatClient) {
    const on = client.on.bind(client) as (event: string, listener: (p: unknown) => void) => void;
    for (const event of SERVER_EVENTS)
      on(event, (payload) => this.received.push({ event, payload }));
    client.on('state', (state) => this.states.push(state));
  }

  /** `join` request: resolves with the reply, or rejects with the RequestError. */
  join(room: RoomName): Promise<Joined> {
    return this.client.emitWithAck('join', { room });
  }

  post(room: RoomName, cid: string, text: string): void {
    this.client.emit('post', { room, cid, text });
  }

  /** The same client without a schema: any name, any payload (a hand-written client). */
  get raw(): ProbeClient<unknown, unknown, UntypedSchema> {
    return this.client as unknown as ProbeClient<unknown, unknown, UntypedSchema>;
  }

  /** Payloads of one event, in arrival order. */
  all<K extends ServerEventName>(event: K): ServerEvents[K][] {
    return this.received.filter((r) => r.event === event).map((r) => r.payload as ServerEvents[K]);
  }

  /** Waits for an event `event` whose payload satisfies `match`, returns the first such. */
  next<K extends ServerEventName>(
    event: K,
    match: (payload: ServerEvents[K]) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<ServerEvents[K]> {
    return waitFor(() => this.all(event).find(match), {
      timeoutMs,
      message: `a '${event}' event`,
    });
  }

  /** Texts of the chat messages received live for `room`, in order. */
  texts(room: string): string[] {
    return this.all('posted')
      .filter((m) => m.room === room)
      .map((m) => m.text);
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
      const client = new ProbeClient<unknown, unknown, ChatSchema>(url ?? wsUrl, {
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
