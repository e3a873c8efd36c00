import type { ProbeClient, UntypedSchema } from '@probe/client';
import type { MessageInfo, Session } from '@probe/server';
import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

type AnyClient = ProbeClient<unknown, unknown, UntypedSchema>;
type AnySession = Session<unknown, unknown, unknown, UntypedSchema>;

let h: Harness | undefined;
afterEach(async () => h?.close());

async function pair() {
  h = await startHarness();
  const client = h.client() as unknown as AnyClient;
  await waitForState(client as unknown as ProbeClient, 'open');
  await waitFor(() => h!.sessions.length === 1);
  return { client, session: h.sessions[0] as unknown as AnySession };
}

describe('named events', () => {
  it('reach the other side’s listeners of that name, in order with plain messages', async () => {
    const { client, session } = await pair();
    const atServer: [string, unknown, number][] = [];
    session.on('message', (data, info) => atServer.push(['message', data, info.seq]));
    session.on('chat:post', (payload, info: MessageInfo) =>
      atServer.push(['chat:post', payload, info.seq]),
    );
    const atClient: [string, unknown][] = [];
    client.on('message', (data) => atClient.push(['message', data]));
    client.on('chat:line', (payload) => atClient.push(['chat:line', payload]));
    client.send('a');
    client.emit('chat:post', { text: 'b' });
    client.send('c');
    session.emit('chat:line', 1);
    session.send(2);
    session.emit('chat:line', 3);
    await waitFor(() => atServer.length === 3 && atClient.length === 3);
    expect(atServer).toEqual([
      ['message', 'a', 1],
      ['chat:post', { text: 'b' }, 2],
      ['message', 'c', 3],
    ]);
    expect(atClient).toEqual([
      ['chat:line', 1],
      ['message', 2],
      ['chat:line', 3],
    ]);
  });

  it('arrive exactly once and in order across resets', async () => {
    const { client, session } = await pair();
    const up: number[] = [];
    const down: number[] = [];
    session.on('n', (n) => up.push(n as number));
    client.on('n', (n) => down.push(n as number));
    for (let i = 1; i <= 300; i++) {
      client.emit('n', i);
      session.emit('n', i);
      if (i % 75 === 0) h!.proxy.latest()?.reset();
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor(() => up.length >= 300 && down.length >= 300, { timeoutMs: 10_000 });
    const expected = Array.from({ length: 300 }, (_, i) => i + 1);
    expect(up).toEqual(expected);
    expect(down).toEqual(expected);
  });

  it('a listener that throws is reported to error; the session carries on', async () => {
    const { client, session } = await pair();
    const errors: unknown[] = [];
    h!.server.on('error', (error) => errors.push(error));
    session.on('boom', () => {
      throw new Error('listener failed');
    });
    const after: unknown[] = [];
    session.on('message', (data) => after.push(data));
    client.emit('boom', null);
    client.send('still here');
    await waitFor(() => after.length === 1);
    expect(String(errors[0])).toContain('listener failed');
    expect(session.state).toBe('open');
  });
});

describe('volatile sends', () => {
  it('client → server: sent only while open, never queued or replayed', async () => {
    const { client, session } = await pair();
    const received: [unknown, number][] = [];
    session.on('message', (data, info) => received.push([data, info.seq]));
    const cursors: unknown[] = [];
    session.on('cursor', (payload) => cursors.push(payload));
    expect(client.send('v1', { volatile: true })).toBe(true);
    expect(client.emit('cursor', { x: 1 }, { volatile: true })).toBe(true);
    client.send('kept 1');
    await waitFor(() => received.length === 2 && cursors.length === 1);
    expect(received).toEqual([
      ['v1', 0],
      ['kept 1', 1],
    ]);
    await waitFor(() => client.buffered.messages === 0);
    // Offline: volatile sends are dropped at once, numbered ones queue.
    h!.proxy.refuse(true);
    h!.proxy.latest()!.reset();
    await waitFor(() => client.state === 'reconnecting');
    expect(client.send('v2', { volatile: true })).toBe(false);
    expect(client.emit('cursor', { x: 2 }, { volatile: true })).toBe(false);
    client.send('kept 2');
    expect(client.buffered.messages).toBe(1);
    h!.proxy.refuse(false);
    await waitFor(() => received.length === 3, { timeoutMs: 5000 });
    expect(received.at(-1)).toEqual(['kept 2', 2]);
    expect(cursors).toEqual([{ x: 1 }]);
    await waitFor(() => client.buffered.messages === 0);
  });

  it('server → client: session.send and emit with volatile go to an open connection only', async () => {
    const { client, session } = await pair();
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    client.on('typing', (who) => received.push(`typing ${String(who)}`));
    expect(session.send('v', { volatile: true })).toBe(true);
    expect(session.emit('typing', 'ann', { volatile: true })).toBe(true);
    await waitFor(() => received.length === 2);
    expect(session.buffered.messages).toBe(0);
    h!.proxy.refuse(true);
    h!.proxy.latest()!.reset();
    await waitFor(() => session.state === 'suspended', { timeoutMs: 3000 });
    expect(session.emit('typing', 'bob', { volatile: true })).toBe(false);
    expect(session.buffered.messages).toBe(0);
    h!.proxy.refuse(false);
    await waitForState(client as unknown as ProbeClient, 'open', 5000);
    expect(received).toEqual(['v', 'typing ann']);
  });
});
