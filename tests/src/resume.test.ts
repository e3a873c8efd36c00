import { CloseCode } from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';
import { Duplex } from './streams.js';

let h: Harness;
afterEach(async () => h?.close());

const ZERO = { lost: 0, duplicated: 0, reordered: 0 };

async function openDuplex(harness: Harness): Promise<Duplex> {
  const client = harness.client();
  const duplex = new Duplex(client);
  const [session] = await once<[import('@probe/server').Session]>(harness.server, 'session', 5000);
  duplex.bind(session);
  await waitForState(client, 'open');
  return duplex;
}

type Fault = (h: Harness, d: Duplex) => Promise<void> | void;

const FAULTS: Record<string, Fault> = {
  'clean close': (h) => h.proxy.latest()!.end(),
  'TCP reset': (h) => h.proxy.latest()!.reset(),
  blackhole: async (h, d) => {
    h.proxy.latest()!.blackhole();
    await waitForState(d.client, 'reconnecting', 5000);
  },
  'server dropping every connection': (h) => {
    // The server closes the socket under the session (4000, retryable), as when shedding load.
    h.server.dropConnections();
  },
};

describe('exactly-once, in-order delivery across faults', () => {
  for (const [name, fault] of Object.entries(FAULTS)) {
    it(`survives a ${name} with traffic flowing both ways`, async () => {
      h = await startHarness();
      const d = await openDuplex(h);
      for (let round = 0; round < 3; round++) {
        d.pump(50);
        await sleep(5);
        d.pump(50);
        const reopened = once(d.client, 'open', 5000);
        const noticed = once(d.client, 'disconnect', 5000);
        await fault(h, d);
        await noticed;
        d.pump(50); // while the path is down: buffered on both sides
        await reopened;
        d.pump(50);
      }
      await waitFor(() => d.complete, { timeoutMs: 5000 });
      expect(d.up.verdict()).toMatchObject({ sent: 600, received: 600, ...ZERO });
      expect(d.down.verdict()).toMatchObject({ sent: 600, received: 600, ...ZERO });
      expect(h.sessions).toHaveLength(1);
    });
  }

  it('survives a blackhole during the replay itself', async () => {
    h = await startHarness();
    const d = await openDuplex(h);
    h.proxy.latest()!.blackhole();
    d.pump(300); // a large backlog both ways so the replay takes a while
    await waitForState(d.client, 'reconnecting', 5000);
    // Cut the first resumed connection as soon as it exists, mid-replay.
    const next = h.proxy.waitForConnection(5000);
    const conn = await next;
    await sleep(2);
    conn.blackhole();
    await waitForState(d.client, 'open', 5000).catch(() => undefined);
    await waitFor(() => d.complete, { timeoutMs: 8000 });
    expect(d.up.verdict()).toMatchObject({ sent: 300, received: 300, ...ZERO });
    expect(d.down.verdict()).toMatchObject({ sent: 300, received: 300, ...ZERO });
  });

  it('reports replay counts on both sides', async () => {
    h = await startHarness();
    const d = await openDuplex(h);
    h.proxy.latest()!.blackhole();
    await waitForState(d.client, 'reconnecting', 5000);
    d.pump(7);
    d.session!.send({ n: 0 }); // one more from the server only
    const serverResume = once<[object]>(d.session!, 'resume', 5000);
    const clientResume = once<[object]>(d.client, 'resume', 5000);
    expect((await serverResume)[0]).toEqual({ replayedToClient: 8, replayedFromClient: 7 });
    expect((await clientResume)[0]).toMatchObject({ replayedToServer: 7, replayedFromServer: 8 });
  });
});

describe('takeover, expiry and refusals', () => {
  it('a second connection resuming the session takes over; the older socket is terminated', async () => {
    h = await startHarness();
    const d = await openDuplex(h);
    const oldConn = h.proxy.latest()!;
    // The old path is half-open: the server has not noticed yet when the client comes back.
    oldConn.blackhole();
    await waitForState(d.client, 'reconnecting', 5000);
    await waitForState(d.client, 'open', 5000);
    expect(d.session!.state).toBe('open');
    d.pump(20);
    await waitFor(() => d.complete, { timeoutMs: 5000 });
    expect(d.up.verdict()).toMatchObject(ZERO);
    expect(h.sessions).toHaveLength(1);
  });

  it('expires a suspended session after sessionTtlMs and refuses its resume as expired', async () => {
    h = await startHarness({ sessionTtlMs: 300 });
    const d = await openDuplex(h);
    h.proxy.refuse(true);
    h.proxy.latest()!.blackhole();
    const closed = once<[string]>(d.session!, 'close', 5000);
    d.client.send({ n: 1 });
    expect((await closed)[0]).toBe('expired');
    const lost = once<[{ reason: string; code: number; unconfirmed: unknown[] }]>(
      d.client,
      'session-lost',
      5000,
    );
    h.proxy.refuse(false);
    const [info] = await lost;
    expect(info.reason).toBe('session-expired');
    expect(info.code).toBe(CloseCode.SESSION_EXPIRED);
    expect(info.unconfirmed).toEqual([{ n: 1 }]);
    // The client carries on with a fresh session.
    await waitForState(d.client, 'open', 5000);
    expect(h.sessions).toHaveLength(2);
  });

  it('a restarted server refuses the resume as server-restarted; the client starts afresh', async () => {
    h = await startHarness();
    const d = await openDuplex(h);
    const { ProbeServer } = await import('@probe/server');
    // Simulate a restart: same port, new instance (the proxy keeps pointing at the old port).
    const port = Number(new URL(h.directUrl).port);
    h.proxy.refuse(true);
    await h.server.close();
    const restarted = new ProbeServer({ probeIntervalMs: 200, probeTimeoutMs: 200 });
    await restarted.listen(port, '127.0.0.1');
    try {
      const lost = once<[{ reason: string; unconfirmed: unknown[] }]>(
        d.client,
        'session-lost',
        5000,
      );
      d.client.send({ n: 99 });
      h.proxy.refuse(false);
      const [info] = await lost;
      expect(info.reason).toBe('server-restarted');
      expect(info.unconfirmed).toEqual([{ n: 99 }]);
      await waitForState(d.client, 'open', 5000);
    } finally {
      await restarted.close();
    }
  });
});
