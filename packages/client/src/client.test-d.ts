// Type tests (vitest typecheck mode; `tsc -p packages/client` checks them too): the message
// generics reach every method and event, and wrong payloads do not compile.

import { describe, expectTypeOf, test } from 'vitest';
import type { WebSocket as NodeWebSocket } from 'ws';
import { ProbeClient } from './client.js';
import type {
  ClientResumeInfo,
  ClientState,
  CloseInfo,
  DisconnectInfo,
  OpenInfo,
  SessionLostInfo,
  SessionLostReason,
} from './events.js';
import type { ProbeClientOptions, WebSocketConstructor } from './options.js';

/** What the server sends. */
type ServerMessage =
  | { type: 'chat'; room: string; text: string }
  | { type: 'presence'; room: string; users: string[] };
/** What this client sends. */
type ClientMessage = { type: 'say'; room: string; text: string } | { type: 'join'; room: string };

const client = new ProbeClient<ServerMessage, ClientMessage>('ws://127.0.0.1:8080/', {
  autoConnect: false,
});

describe('send', () => {
  test('accepts the declared outgoing type only', () => {
    expectTypeOf(client.send).parameter(0).toEqualTypeOf<ClientMessage>();
    expectTypeOf(client.send).returns.toEqualTypeOf<boolean>();
    client.send({ type: 'join', room: 'lobby' });
    client.send({ type: 'say', room: 'lobby', text: 'hi' });
    // @ts-expect-error wrong field type
    client.send({ type: 'say', room: 'lobby', text: 42 });
    // @ts-expect-error missing field
    client.send({ type: 'say', room: 'lobby' });
    // @ts-expect-error unknown discriminant
    client.send({ type: 'leave', room: 'lobby' });
    // @ts-expect-error an incoming message is not an outgoing one
    client.send({ type: 'chat', room: 'lobby', text: 'hi' });
    // @ts-expect-error not a message at all
    client.send('hello');
  });

  test('defaults to unknown in both directions', () => {
    const untyped = new ProbeClient('ws://127.0.0.1:8080/');
    expectTypeOf(untyped.send).parameter(0).toEqualTypeOf<unknown>();
    untyped.on('message', (data) => expectTypeOf(data).toEqualTypeOf<unknown>());
  });
});

describe('events', () => {
  test("'message' carries the declared incoming type", () => {
    client.on('message', (data) => {
      expectTypeOf(data).toEqualTypeOf<ServerMessage>();
      if (data.type === 'presence') expectTypeOf(data.users).toEqualTypeOf<string[]>();
    });
    // @ts-expect-error a listener for the outgoing type does not fit
    client.on('message', (_data: ClientMessage) => {});
  });

  test('messages handed back on loss are of the outgoing type', () => {
    client.on('session-lost', (info) => {
      expectTypeOf(info).toEqualTypeOf<SessionLostInfo<ClientMessage>>();
      expectTypeOf(info.unconfirmed).toEqualTypeOf<ClientMessage[]>();
      expectTypeOf(info.reason).toEqualTypeOf<SessionLostReason>();
      expectTypeOf(info.sessionId).toEqualTypeOf<string | null>();
      // Re-sending what was lost needs no cast.
      for (const message of info.unconfirmed) client.send(message);
    });
    client.on('close', (info) => {
      expectTypeOf(info).toEqualTypeOf<CloseInfo<ClientMessage>>();
      expectTypeOf(info.unsent).toEqualTypeOf<ClientMessage[]>();
      expectTypeOf(info.unconfirmed).toEqualTypeOf<ClientMessage[]>();
      expectTypeOf(info.code).toEqualTypeOf<number>();
    });
  });

  test('the other events carry their info types', () => {
    client.on('state', (state) => expectTypeOf(state).toEqualTypeOf<ClientState>());
    client.on('open', (info) => expectTypeOf(info).toEqualTypeOf<OpenInfo>());
    client.on('resume', (info) => expectTypeOf(info).toEqualTypeOf<ClientResumeInfo>());
    client.on('disconnect', (info) => expectTypeOf(info).toEqualTypeOf<DisconnectInfo>());
    client.on('error', (error) => expectTypeOf(error).toEqualTypeOf<unknown>());
    client.on('drain', (...args) => expectTypeOf(args).toEqualTypeOf<[]>());
    expectTypeOf<ClientState>().toEqualTypeOf<
      'connecting' | 'open' | 'reconnecting' | 'suspended' | 'closed'
    >();
  });

  test('unknown events and wrong listener shapes do not compile', () => {
    // @ts-expect-error not an event of the client
    client.on('session', () => {});
    // @ts-expect-error 'state' carries a ClientState, not a number
    client.on('state', (_state: number) => {});
    // @ts-expect-error a client cannot emit a message of the wrong type to its own listeners
    client.emit('message', { type: 'say', room: 'lobby', text: 'hi' });
  });
});

describe('state and options', () => {
  test('public fields', () => {
    expectTypeOf(client.state).toEqualTypeOf<ClientState>();
    expectTypeOf(client.sessionId).toEqualTypeOf<string | null>();
    expectTypeOf(client.url).toEqualTypeOf<string>();
    expectTypeOf(client.buffered).toEqualTypeOf<{ messages: number; bytes: number }>();
  });

  test('connection control', () => {
    expectTypeOf(client.connect).toEqualTypeOf<() => void>();
    expectTypeOf(client.suspend).toEqualTypeOf<() => void>();
    expectTypeOf(client.close).toEqualTypeOf<(code?: number, reason?: string) => void>();
    // @ts-expect-error the close reason is a string
    client.close(1000, 42);
  });

  test('options are checked', () => {
    const options: ProbeClientOptions = {
      auth: async () => ({ token: 'secret' }),
      reconnect: { maxAttempts: 10, initialDelayMs: 100 },
      maxQueueMessages: 1000,
    };
    new ProbeClient<ServerMessage, ClientMessage>('ws://127.0.0.1:8080/', options);
    // @ts-expect-error numbers, not strings
    new ProbeClient('ws://127.0.0.1:8080/', { maxQueueMessages: '1000' });
    // @ts-expect-error not an option
    new ProbeClient('ws://127.0.0.1:8080/', { probeIntervalMs: 1000 });
    // @ts-expect-error not a reconnect option
    new ProbeClient('ws://127.0.0.1:8080/', { reconnect: { retries: 3 } });
  });

  test("the WebSocket option takes ws's WebSocket without a cast", () => {
    expectTypeOf<typeof NodeWebSocket>().toExtend<WebSocketConstructor>();
    const Ws = null as unknown as typeof NodeWebSocket;
    new ProbeClient('ws://127.0.0.1:8080/', { WebSocket: Ws, autoConnect: false });
  });
});
