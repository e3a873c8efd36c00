import { type ProbeClient, ProbeError, RequestError, type UntypedSchema } from '@probe/client';
import { FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { CloseCode, type Session } from '@probe/server';
import { RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

type AnyClient = ProbeClient<unknown, unknown, UntypedSchema>;
type AnySession = Session<unknown, unknown, unknown, UntypedSchema>;

let h: Harness | undefined;
afterEach(async () => h?.close());

/** A harness, one open client and its session, both untyped (any event or request name). */
async function pair(options: Parameters<typeof startHarness>[0] = {}) {
  h = await startHarness(options);
  const client = h.client() as unknown as AnyClient;
  await waitForState(client as unknown as ProbeClient, 'open');
  await waitFor(() => h!.sessions.length === 1);
  return { client, session: h.sessions[0] as unknown as AnySession };
}

/** What a promise settled with: the value, or the error. */
const settled = (promise: Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> =>
  promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );

describe('requests with replies', () => {
  it('client → server: unnamed and named requests get their handler’s reply', async () => {
    const { client, session } = await pair();
    session.handle((data) => ({ echo: data }));
    session.handle('sum', async (numbers: number[], s) => {
      expect(s).toBe(session);
      await new Promise((r) => setTimeout(r, 5));
      return numbers.reduce((a, b) => a + b, 0);
    });
    expect(await client.request('hi')).toEqual({ echo: 'hi' });
    expect(await client.emitWithAck('sum', [1, 2, 3])).toBe(6);
    // Many at once: each gets its own reply.
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.emitWithAck('sum', [i, i])),
    );
    expect(replies).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
  });

  it('server → client: session.request and emitWithAck, answered by client.handle', async () => {
    const { client, session } = await pair();
    client.handle((data) => `client got ${String(data)}`);
    client.handle('double', (n: number) => n * 2);
    expect(await session.request('x')).toBe('client got x');
    expect(await session.emitWithAck('double', 21)).toBe(42);
  });

  it('error replies: RequestError passes its code and message, other errors do not', async () => {
    const { client, session } = await pair();
    const serverErrors: unknown[] = [];
    h!.server.on('error', (error) => serverErrors.push(error));
    session.handle('refuse', () => {
      throw new RequestError('forbidden', 'not your room');
    });
    session.handle('crash', async () => {
      throw new Error('secret internal detail');
    });
    const refused = await settled(client.emitWithAck('refuse', null));
    expect(refused.error).toBeInstanceOf(RequestError);
    expect(refused.error).toMatchObject({ code: 'forbidden', message: 'not your room' });
    const crashed = await settled(client.emitWithAck('crash', null));
    expect(crashed.error).toMatchObject({ code: 'handler-failed' });
    expect(String((crashed.error as Error).message)).not.toContain('secret');
    expect(serverErrors).toHaveLength(1);
    expect(String(serverErrors[0])).toContain('secret internal detail');
    const missing = await settled(client.emitWithAck('nobody', null));
    expect(missing.error).toMatchObject({ code: 'no-handler' });
    const unnamed = await settled(client.request(1));
    expect(unnamed.error).toMatchObject({ code: 'no-handler' });
    // A result MessagePack cannot carry fails the request rather than hanging it.
    session.handle('bad-result', () => Symbol('not data'));
    const bad = await settled(client.emitWithAck('bad-result', null));
    expect(bad.error).toMatchObject({ code: 'handler-failed' });
    expect(serverErrors).toHaveLength(2);
    // The session is untouched by all of it.
    session.handle('ok', () => 'ok');
    expect(await client.emitWithAck('ok', null)).toBe('ok');
    expect(session.state).toBe('open');
  });

  it('a timeout rejects with ProbeError timeout; the late reply is dropped', async () => {
    const { client, session } = await pair();
    const release: (() => void)[] = [];
    session.handle('slow', () => new Promise<string>((r) => release.push(() => r('late'))));
    const clientErrors: unknown[] = [];
    client.on('error', (error) => clientErrors.push(error));
    const timedOut = await settled(client.emitWithAck('slow', null, { timeoutMs: 50 }));
    expect(timedOut.error).toBeInstanceOf(ProbeError);
    expect(timedOut.error).toMatchObject({ code: 'timeout' });
    await waitFor(() => release.length === 1);
    release[0]!();
    // The reply arrives and is dropped: no error, and the next request is answered as usual.
    session.handle('fast', () => 'fast');
    expect(await client.emitWithAck('fast', null)).toBe('fast');
    expect(clientErrors).toEqual([]);
    expect(() => client.request(1, { timeoutMs: 0 })).toThrow(/timeoutMs/);
  });

  it('an AbortSignal rejects the request with its reason', async () => {
    const { client, session } = await pair();
    session.handle('never', () => new Promise(() => {}));
    const controller = new AbortController();
    const pending = settled(client.emitWithAck('never', null, { signal: controller.signal }));
    controller.abort(new Error('user left'));
    expect((await pending).error).toMatchObject({ message: 'user left' });
  });

  it('a request sent before a drop is answered once after the resume, its handler run once', async () => {
    const { client, session } = await pair();
    const runs = new Map<number, number>();
    session.handle('work', (n: number) => {
      runs.set(n, (runs.get(n) ?? 0) + 1);
      return n * 10;
    });
    // Requests on a path that swallows everything, then a reset: they wait through the
    // reconnect and are delivered once on the resumed session.
    h!.proxy.latest()!.blackhole();
    const pending = Array.from({ length: 20 }, (_, i) => client.emitWithAck('work', i + 1));
    await new Promise((r) => setTimeout(r, 50));
    h!.proxy.latest()!.reset();
    // More while reconnecting: queued, then sent.
    pending.push(...Array.from({ length: 20 }, (_, i) => client.emitWithAck('work', i + 21)));
    const replies = await Promise.all(pending);
    expect(replies).toEqual(Array.from({ length: 40 }, (_, i) => (i + 1) * 10));
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(runs.size).toBe(40);
    expect(session.state).toBe('open');
  });

  it('a reply written before a drop reaches the requester once after the resume', async () => {
    const { client, session } = await pair();
    let runs = 0;
    session.handle('once', () => {
      runs++;
      // The reply goes out on a path that swallows it; the resume replays it.
      h!.proxy.latest()!.blackhole();
      return 'done';
    });
    const reply = client.emitWithAck('once', null, { timeoutMs: 10_000 });
    await waitFor(() => runs === 1);
    h!.proxy.latest()!.reset();
    expect(await reply).toBe('done');
    expect(runs).toBe(1);
  });

  it('losing the session rejects every pending request with session-lost', async () => {
    const { client, session } = await pair();
    session.handle('never', () => new Promise(() => {}));
    const pending = [
      settled(client.emitWithAck('never', 1)),
      settled(client.emitWithAck('never', 2)),
    ];
    await waitFor(() => session.buffered.messages === 0 && client.buffered.messages === 0);
    // The server ends the session while the client is away: its resume is refused.
    h!.proxy.refuse(true);
    h!.proxy.latest()!.reset();
    await waitFor(() => session.state === 'suspended');
    session.close();
    h!.proxy.refuse(false);
    for (const outcome of await Promise.all(pending)) {
      expect(outcome.error).toBeInstanceOf(ProbeError);
      expect(outcome.error).toMatchObject({ code: 'session-lost' });
    }
  });

  it('closing rejects pending requests both ways', async () => {
    const { client, session } = await pair();
    session.handle('never', () => new Promise(() => {}));
    client.handle('never', () => new Promise(() => {}));
    const fromClient = settled(client.emitWithAck('never', null));
    const fromServer = settled(session.emitWithAck('never', null));
    await waitFor(() => session.buffered.messages === 0 && client.buffered.messages === 0);
    client.close();
    expect((await fromClient).error).toMatchObject({ code: 'client-closed' });
    expect((await fromServer).error).toMatchObject({ code: 'session-closed' });
    await expect(client.request(1)).rejects.toMatchObject({ code: 'client-closed' });
  });

  it('refuses reserved and empty event names on both sides', async () => {
    const { client, session } = await pair();
    for (const name of ['message', 'close', 'error', '', 'x'.repeat(129)]) {
      expect(() => client.emit(name, 1)).toThrow(ProbeError);
      expect(() => session.emit(name, 1)).toThrow(ProbeError);
      expect(() => client.emitWithAck(name, 1)).toThrow(/reserved/);
    }
    expect(session.state).toBe('open');
  });

  it('a client sending a reserved event name is refused with 1002; others are untouched', async () => {
    h = await startHarness();
    const bystander = h.client();
    await waitForState(bystander, 'open');
    const raw = await RawClient.connect(h.directUrl);
    raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    expect((await raw.nextFrame()).type).toBe(FrameType.WELCOME);
    // [5, 1, null, 'close']: a named event called 'close'.
    raw.sendBytes(new Uint8Array([0x94, 0x05, 0x01, 0xc0, 0xa5, ...Buffer.from('close')]));
    const closed = await raw.waitForClose();
    expect(closed.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(h.errors.at(-1)?.message).toMatch(/reserved/);
    expect(bystander.state).toBe('open');
  });
});
