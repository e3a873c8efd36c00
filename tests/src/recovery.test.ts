import { ProbeClient, ProbeError, type SessionLostInfo, type UntypedSchema } from '@probe/client';
import type { Session } from '@probe/server';
import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_RECONNECT, type Harness, startHarness, waitForState } from './harness.js';

let h: Harness | undefined;
const extra: ProbeClient[] = [];
afterEach(async () => {
  for (const client of extra.splice(0)) client.close();
  await h?.close();
});

/** A client in a "new page": built from a recovery key, through the same proxy. */
function reopen(key: string): ProbeClient {
  const client = new ProbeClient(h!.url, { recover: key, reconnect: FAST_RECONNECT });
  extra.push(client);
  return client;
}

describe('recovery after a page reload or a process restart', () => {
  it('a new client takes the session up again: nothing lost, nothing twice', async () => {
    h = await startHarness();
    const first = h.client();
    const toClient: unknown[] = [];
    first.on('message', (data) => toClient.push(data));
    await waitForState(first, 'open');
    await waitFor(() => h!.sessions.length === 1);
    const session = h.sessions[0]!;
    const toServer: unknown[] = [];
    session.on('message', (data) => toServer.push(data));
    for (let i = 1; i <= 5; i++) {
      first.send(`up ${i}`);
      session.send(`down ${i}`);
    }
    await waitFor(() => toServer.length === 5 && toClient.length === 5);
    // The path goes silent: these are written but never arrive or get acknowledged.
    h.proxy.latest()!.blackhole();
    for (let i = 6; i <= 8; i++) first.send(`up ${i}`);
    // The page goes away (no goodbye), with a message it could not even write.
    first.suspend();
    first.send('up 9');
    const key = first.recoveryKey();
    expect(key).toEqual(expect.any(String));
    first.removeAllListeners('message');
    for (let i = 6; i <= 8; i++) session.send(`down ${i}`);

    const second = reopen(key!);
    const received: unknown[] = [];
    second.on('message', (data) => received.push(data));
    await waitForState(second, 'open', 10_000);
    expect(second.sessionId).toBe(session.id);
    await waitFor(() => toServer.length === 9 && received.length === 3, { timeoutMs: 10_000 });
    expect(toServer).toEqual(Array.from({ length: 9 }, (_, i) => `up ${i + 1}`));
    expect(received).toEqual(['down 6', 'down 7', 'down 8']);
    // One session throughout: the server never saw a new one.
    expect(h.sessions).toHaveLength(1);
    second.send('after');
    await waitFor(() => toServer.length === 10);
    expect(toServer.at(-1)).toBe('after');
  });

  it('a reply to the old page’s request is never taken for the new page’s', async () => {
    h = await startHarness();
    const first = h.client() as unknown as ProbeClient<unknown, unknown, UntypedSchema>;
    await waitForState(first as unknown as ProbeClient, 'open');
    await waitFor(() => h!.sessions.length === 1);
    const session = h.sessions[0] as unknown as Session<unknown, unknown, unknown, UntypedSchema>;
    const gates: (() => void)[] = [];
    session.handle('who', (who) => new Promise((r) => gates.push(() => r(`reply to ${who}`))));
    void first.emitWithAck('who', 'page A').catch(() => {});
    await waitFor(() => gates.length === 1);
    first.suspend();
    const key = first.recoveryKey()!;
    // The old page's request is answered while no page is connected: the reply waits.
    gates[0]!();
    const second = reopen(key) as unknown as ProbeClient<unknown, unknown, UntypedSchema>;
    const mine = second.emitWithAck('who', 'page B');
    await waitFor(() => gates.length === 2, { timeoutMs: 5000 });
    gates[1]!();
    expect(await mine).toBe('reply to page B');
  });

  it('a key whose session is gone ends in session-lost, listing every unconfirmed message', async () => {
    h = await startHarness({ sessionTtlMs: 100 });
    const first = h.client();
    await waitForState(first, 'open');
    await waitFor(() => h!.sessions.length === 1);
    first.suspend();
    first.send('never delivered');
    (first as unknown as ProbeClient<unknown, unknown, UntypedSchema>).emit('chat:post', 'hi');
    const key = first.recoveryKey()!;
    await waitFor(() => h!.sessions[0]!.state === 'closed', { timeoutMs: 5000 });
    const second = reopen(key);
    const lost = await new Promise<SessionLostInfo<unknown>>((resolve) =>
      second.on('session-lost', resolve),
    );
    expect(lost.unconfirmed).toEqual(['never delivered']);
    expect(lost.unconfirmedEvents).toEqual([{ event: 'chat:post', payload: 'hi' }]);
    await waitForState(second, 'open');
    expect(second.sessionId).not.toBe(h.sessions[0]!.id);
  });

  it('refuses a key that is not one, before connecting', () => {
    for (const key of ['', 'nope', '[1,"s","t",0,0,5,[]]', '{"a":1}', '[2,"s","t",0,0,0,[]]']) {
      expect(
        () => new ProbeClient('ws://127.0.0.1:9/', { recover: key, autoConnect: false }),
      ).toThrow(ProbeError);
    }
  });

  it('has no key without a session', () => {
    const client = new ProbeClient('ws://127.0.0.1:9/', { autoConnect: false });
    expect(client.recoveryKey()).toBeNull();
  });
});
