import { ProbeError } from '@probe/client';
import { CloseCode } from '@probe/protocol';
import { once, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

let h: Harness;
afterEach(async () => h?.close());

describe('bounded buffers', () => {
  it('server: overflowing the replay buffer while suspended ends the session with buffer-overflow', async () => {
    h = await startHarness({ maxBufferedMessages: 50 });
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    h.proxy.refuse(true);
    h.proxy.latest()!.blackhole();
    await once(session, 'suspend', 5000);
    const closed = once<[string]>(session, 'close', 5000);
    for (let i = 0; i < 50; i++) session.send({ i });
    expect(session.state).toBe('suspended');
    session.send({ i: 50 });
    expect((await closed)[0]).toBe('buffer-overflow');
    const lost = once<[{ reason: string; code: number }]>(client, 'session-lost', 5000);
    h.proxy.refuse(false);
    expect((await lost)[0]).toMatchObject({
      reason: 'buffer-overflow',
      code: CloseCode.BUFFER_OVERFLOW,
    });
  });

  it('server: send() applies backpressure while connected and drain follows the acks', async () => {
    h = await startHarness({ highWaterMarkBytes: 10_000, maxBufferedBytes: 1_000_000 });
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const received: unknown[] = [];
    client.on('message', (m) => received.push(m));
    const payload = 'x'.repeat(1000);
    let accepted = true;
    let sent = 0;
    while (accepted && sent < 1000) {
      accepted = session.send({ sent, payload });
      sent++;
    }
    expect(accepted).toBe(false);
    expect(sent).toBeLessThan(20);
    await once(session, 'drain', 5000);
    expect(session.buffered.bytes).toBeLessThanOrEqual(10_000);
    await waitFor(() => received.length === sent);
  });

  it('client: the offline queue is bounded; send() beyond it throws queue-full and nothing is dropped', async () => {
    h = await startHarness();
    const client = h.client({ maxQueueMessages: 20 });
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const received: unknown[] = [];
    session.on('message', (m) => received.push(m));
    h.proxy.refuse(true);
    h.proxy.latest()!.reset();
    await waitForState(client, 'reconnecting');
    for (let i = 0; i < 20; i++) client.send(i);
    let error: unknown;
    try {
      client.send(20);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).code).toBe('queue-full');
    h.proxy.refuse(false);
    await waitFor(() => received.length === 20, { timeoutMs: 5000 });
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('client: send() returns false above the high-water mark and drain follows', async () => {
    h = await startHarness();
    const client = h.client({ highWaterMarkBytes: 5000 });
    await waitForState(client, 'open');
    const results = Array.from({ length: 10 }, (_, i) => client.send({ i, pad: 'y'.repeat(1000) }));
    expect(results.slice(0, 3)).toEqual([true, true, true]);
    expect(results[9]).toBe(false);
    await once(client, 'drain', 5000);
    expect(client.buffered.bytes).toBeLessThanOrEqual(5000);
  });
});

describe('ending sessions', () => {
  it('client.close() ends the session on the server at once, after delivering what was sent', async () => {
    h = await startHarness({ sessionTtlMs: 60_000 });
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const received: unknown[] = [];
    session.on('message', (m) => received.push(m));
    const closed = once<[string]>(session, 'close', 2000);
    client.send('last words');
    client.close();
    expect((await closed)[0]).toBe('client-closed');
    expect(received).toEqual(['last words']);
    expect(h.server.sessionCount).toBe(0);
  });

  it('session.close() ends it from the server side; the client stops with a final code', async () => {
    h = await startHarness();
    const client = h.client();
    await waitForState(client, 'open');
    const closed = once<[{ code: number }]>(client, 'close', 2000);
    h.sessions[0]!.close();
    expect((await closed)[0].code).toBe(CloseCode.SESSION_CLOSED);
    expect(client.state).toBe('closed');
    expect(h.server.sessionCount).toBe(0);
  });

  it('server.close() tells clients to come back later (retryable), and they resume elsewhere or start afresh', async () => {
    h = await startHarness();
    const client = h.client();
    await waitForState(client, 'open');
    const disconnected = once<[{ code: number }]>(client, 'disconnect', 2000);
    await h.server.close();
    expect((await disconnected)[0].code).toBe(CloseCode.SERVER_SHUTDOWN);
    expect(client.state).not.toBe('closed');
  });
});

describe('draining', () => {
  it('dropConnections() closes every socket but keeps the sessions: clients resume', async () => {
    h = await startHarness();
    const clients = Array.from({ length: 5 }, () => h.client());
    await Promise.all(clients.map((c) => waitForState(c, 'open')));
    const resumed = Promise.all(clients.map((c) => once(c, 'resume', 5000)));
    expect(h.server.dropConnections()).toBe(5);
    await resumed;
    expect(h.sessions).toHaveLength(5);
    expect(h.sessions.every((s) => s.state === 'open')).toBe(true);
  });
});
