// Type tests (checked by `tsc -p tests`, as part of `pnpm typecheck`): one schema of named
// events and requests, declared once, types both the client and the server's sessions, and
// wrong names, payloads and replies do not compile.
import { type DefineSchema, ProbeClient, RequestError, type UntypedSchema } from '@probe/client';
import { type MessageInfo, ProbeServer, type Session } from '@probe/server';
import { describe, expectTypeOf, test } from 'vitest';

interface Line {
  room: string;
  text: string;
  from: string;
}

type Chat = DefineSchema<{
  clientEvents: { 'chat:post': { room: string; text: string }; typing: string };
  serverEvents: { 'chat:line': Line; presence: string[] };
  clientRequests: {
    'chat:history': (query: { room: string }) => Line[];
    'chat:join': (room: string) => Promise<{ members: number }>;
  };
  serverRequests: { 'client:version': (payload: null) => string };
}>;

const client = new ProbeClient<unknown, unknown, Chat>('ws://127.0.0.1:8080/', {
  autoConnect: false,
});
const server = new ProbeServer<{ user: string }, unknown, unknown, Chat>();

describe('client', () => {
  test('emits client events with their payload', () => {
    expectTypeOf(client.emit('chat:post', { room: 'a', text: 'hi' })).toEqualTypeOf<boolean>();
    client.emit('typing', 'ann', { volatile: true });
    // @ts-expect-error not a client event
    client.emit('chat:line', { room: 'a', text: 'hi', from: 'x' });
    // @ts-expect-error wrong payload
    client.emit('chat:post', { room: 'a' });
    // @ts-expect-error a built-in event is not a client event
    client.emit('open', { sessionId: 'x', resumed: false });
  });

  test('listens to server events and its own events, each with its arguments', () => {
    client.on('chat:line', (line) => expectTypeOf(line).toEqualTypeOf<Line>());
    client.on('presence', (names) => expectTypeOf(names).toEqualTypeOf<string[]>());
    client.on('open', (info) => expectTypeOf(info.sessionId).toEqualTypeOf<string>());
    // @ts-expect-error a client event does not arrive at the client
    client.on('chat:post', () => {});
    // @ts-expect-error wrong payload type in the listener
    client.on('presence', (_names: number) => {});
  });

  test('requests resolve with the declared reply', () => {
    expectTypeOf(client.emitWithAck('chat:history', { room: 'a' })).toEqualTypeOf<
      Promise<Line[]>
    >();
    expectTypeOf(client.emitWithAck('chat:join', 'a')).toEqualTypeOf<
      Promise<{ members: number }>
    >();
    expectTypeOf(client.request('raw')).toEqualTypeOf<Promise<unknown>>();
    // @ts-expect-error wrong request payload
    client.emitWithAck('chat:history', 'a');
    // @ts-expect-error not a client request
    client.emitWithAck('client:version', null);
  });

  test('answers server requests with the declared reply', () => {
    client.handle('client:version', (payload) => {
      expectTypeOf(payload).toEqualTypeOf<null>();
      return '1.0.0';
    });
    // @ts-expect-error wrong reply type
    client.handle('client:version', () => 42);
    // @ts-expect-error not a server request
    client.handle('chat:history', () => []);
  });
});

describe('server sessions', () => {
  test('listen to client events with the message info', () => {
    server.on('session', (session) => {
      expectTypeOf(session).toEqualTypeOf<Session<{ user: string }, unknown, unknown, Chat>>();
      session.on('chat:post', (post, info) => {
        expectTypeOf(post).toEqualTypeOf<{ room: string; text: string }>();
        expectTypeOf(info).toEqualTypeOf<MessageInfo>();
      });
      session.on('close', (reason) => expectTypeOf(reason).toBeString());
      // @ts-expect-error a server event does not arrive at the server
      session.on('chat:line', () => {});
    });
  });

  test('emit server events and answer client requests', () => {
    server.on('session', (session) => {
      session.emit('chat:line', { room: 'a', text: 'hi', from: 'b' });
      // @ts-expect-error wrong payload
      session.emit('presence', 'ann');
      session.handle('chat:history', (query, s) => {
        expectTypeOf(query).toEqualTypeOf<{ room: string }>();
        expectTypeOf(s.data.user).toEqualTypeOf<string>();
        return [];
      });
      session.handle('chat:join', async () => ({ members: 1 }));
      // @ts-expect-error wrong reply
      session.handle('chat:join', async () => ({ members: 'one' }));
      session.handle('chat:history', () => {
        throw new RequestError('forbidden', 'no');
      });
      expectTypeOf(session.emitWithAck('client:version', null)).toEqualTypeOf<Promise<string>>();
    });
  });

  test('broadcast a server event with its payload', () => {
    server.broadcast({ room: 'a', text: 'hi', from: 'b' }, { room: 'a', event: 'chat:line' });
    server.broadcast(['ann'], { event: 'presence', volatile: true });
    // @ts-expect-error wrong payload for the event
    server.broadcast('ann', { event: 'presence' });
    // @ts-expect-error not a server event
    server.broadcast('x', { event: 'typing' });
  });
});

describe('without a schema', () => {
  test('named events need a schema; UntypedSchema allows any name', () => {
    const plain = new ProbeClient('ws://127.0.0.1:8080/', { autoConnect: false });
    // @ts-expect-error no named events without a schema: a misspelt name does not compile
    plain.emit('anything', 1);
    const loose = new ProbeClient<unknown, unknown, UntypedSchema>('ws://127.0.0.1:8080/');
    loose.emit('anything', 1);
    loose.on('whatever', (payload) => expectTypeOf(payload).toEqualTypeOf<unknown>());
    expectTypeOf(loose.emitWithAck('any', 1)).toEqualTypeOf<Promise<unknown>>();
  });
});
