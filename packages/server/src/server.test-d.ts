// Type tests (vitest typecheck mode; `tsc -p packages/server` checks them too): the `Data`,
// `In` and `Out` generics reach sessions, events and broadcast, and wrong payloads do not compile.
import type { IncomingMessage } from 'node:http';
import { describe, expectTypeOf, test } from 'vitest';
import type {
  CloseReason,
  ConnectionErrorInfo,
  MessageInfo,
  ResumeInfo,
  SessionInfo,
  SuspendReason,
} from './events.js';
import type { Authenticate, ProbeServerOptions } from './options.js';
import { ProbeServer, type ServerStats } from './server.js';
import type { Session, SessionState } from './session.js';

interface User {
  id: string;
  name: string;
}
/** What clients send. */
type ClientMessage = { type: 'say'; room: string; text: string } | { type: 'join'; room: string };
/** What the server sends. */
type ServerMessage =
  | { type: 'chat'; room: string; from: string; text: string }
  | { type: 'presence'; room: string; users: string[] };

const server = new ProbeServer<User, ClientMessage, ServerMessage>({
  authenticate: async (auth) => {
    if (typeof auth !== 'string') throw new Error('no token');
    return { id: auth, name: 'Ada' };
  },
});

describe('sessions', () => {
  test("'session' hands out a session with all three types", () => {
    server.on('session', (session) => {
      expectTypeOf(session).toEqualTypeOf<Session<User, ClientMessage, ServerMessage>>();
      expectTypeOf(session.data).toEqualTypeOf<User>();
      expectTypeOf(session.id).toEqualTypeOf<string>();
      expectTypeOf(session.state).toEqualTypeOf<SessionState>();
      expectTypeOf(session.rttMs).toEqualTypeOf<number | null>();
    });
  });

  test("'message' carries the declared incoming type", () => {
    server.on('session', (session) => {
      session.on('message', (data) => {
        expectTypeOf(data).toEqualTypeOf<ClientMessage>();
        if (data.type === 'say') expectTypeOf(data.text).toEqualTypeOf<string>();
      });
      // @ts-expect-error a listener for the outgoing type does not fit
      session.on('message', (_data: ServerMessage) => {});
    });
  });

  test('send accepts the declared outgoing type only', () => {
    server.on('session', (session) => {
      expectTypeOf(session.send).parameter(0).toEqualTypeOf<ServerMessage>();
      expectTypeOf(session.send).returns.toEqualTypeOf<boolean>();
      session.send({ type: 'presence', room: 'lobby', users: [session.data.name] });
      // @ts-expect-error wrong field type
      session.send({ type: 'presence', room: 'lobby', users: 'Ada' });
      // @ts-expect-error missing field
      session.send({ type: 'chat', room: 'lobby', text: 'hi' });
      // @ts-expect-error an incoming message is not an outgoing one
      session.send({ type: 'join', room: 'lobby' });
      // @ts-expect-error not a message at all
      session.send(42);
    });
  });

  test('lifecycle events carry their reason types', () => {
    server.on('session', (session) => {
      session.on('suspend', (reason) => expectTypeOf(reason).toEqualTypeOf<SuspendReason>());
      session.on('resume', (info) => expectTypeOf(info).toEqualTypeOf<ResumeInfo>());
      session.on('close', (reason) => expectTypeOf(reason).toEqualTypeOf<CloseReason>());
      session.on('drain', (...args) => expectTypeOf(args).toEqualTypeOf<[]>());
      // @ts-expect-error not an event of a session
      session.on('session', () => {});
      // @ts-expect-error 'close' carries a CloseReason string, not a number
      session.on('close', (_reason: number) => {});
    });
    expectTypeOf<CloseReason>().toEqualTypeOf<
      | 'client-closed'
      | 'server-closed'
      | 'expired'
      | 'buffer-overflow'
      | 'protocol-error'
      | 'server-shutdown'
      | 'revoked'
      | 'moved'
      | 'store-unavailable'
    >();
    expectTypeOf<SuspendReason>().toEqualTypeOf<
      'probe-timeout' | 'reset' | 'closed' | 'error' | 'resync'
    >();
  });

  test('messages carry their sequence number and redelivery mark', () => {
    server.on('session', (session, info) => {
      expectTypeOf(info).toEqualTypeOf<SessionInfo>();
      session.on('message', (_data, meta) => expectTypeOf(meta).toEqualTypeOf<MessageInfo>());
      expectTypeOf(session.durable()).toEqualTypeOf<Promise<void>>();
      // @ts-expect-error the mark is a boolean
      session.on('message', (_data, meta: { redelivered: string }) => meta);
    });
  });
});

describe('server', () => {
  test('broadcast and sessions() keep the types', () => {
    expectTypeOf(server.broadcast).parameter(0).toEqualTypeOf<ServerMessage>();
    server.broadcast({ type: 'presence', room: 'lobby', users: [] }, { room: 'lobby' });
    // @ts-expect-error an incoming message is not an outgoing one
    server.broadcast({ type: 'join', room: 'lobby' });
    for (const session of server.sessions()) {
      expectTypeOf(session).toEqualTypeOf<Session<User, ClientMessage, ServerMessage>>();
    }
    server.on('session', (session) => {
      server.rooms.join('lobby', session);
      server.broadcast({ type: 'presence', room: 'lobby', users: [] }, { except: session });
    });
  });

  test('server events', () => {
    server.on('connection-error', (info) => {
      expectTypeOf(info).toEqualTypeOf<ConnectionErrorInfo>();
    });
    server.on('error', (error) => expectTypeOf(error).toEqualTypeOf<unknown>());
    // @ts-expect-error not an event of the server
    server.on('message', () => {});
    expectTypeOf(server.stats()).toEqualTypeOf<ServerStats>();
    expectTypeOf(server.listen).returns.toEqualTypeOf<Promise<{ port: number; host: string }>>();
  });

  test('Data is inferred from authenticate', () => {
    const inferred = new ProbeServer({ authenticate: () => ({ role: 'admin' as const }) });
    inferred.on('session', (session) => {
      expectTypeOf(session.data).toEqualTypeOf<{ role: 'admin' }>();
      expectTypeOf(session.send).parameter(0).toEqualTypeOf<unknown>();
    });
    const untyped = new ProbeServer();
    untyped.on('session', (session) => {
      expectTypeOf(session.data).toEqualTypeOf<unknown>();
      session.on('message', (data) => expectTypeOf(data).toEqualTypeOf<unknown>());
    });
  });

  test('options are checked', () => {
    expectTypeOf<Authenticate<User>>().parameters.toEqualTypeOf<[unknown, IncomingMessage]>();
    const options: ProbeServerOptions<User> = {
      probeIntervalMs: 5000,
      authenticate: (_auth, request) => ({ id: request.headers['x-user'] as string, name: '' }),
    };
    new ProbeServer<User, ClientMessage, ServerMessage>(options);
    // @ts-expect-error authenticate must resolve with the declared Data
    new ProbeServer<User, ClientMessage, ServerMessage>({ authenticate: () => ({ id: 1 }) });
    // @ts-expect-error numbers, not strings
    new ProbeServer({ probeIntervalMs: '5000' });
    // @ts-expect-error not a server option
    new ProbeServer({ reconnect: { maxAttempts: 3 } });
  });
});
