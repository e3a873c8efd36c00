import type { Session } from '@probe/server';
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
  const [session] = await once<[Session]>(harness.server, 'session', 5000);
  duplex.bind(session);
  await waitForState(client, 'open');
  return duplex;
}

describe('client: suspend() and connect()', () => {
  it('messages sent both ways while suspended arrive exactly once after connect()', async () => {
    h = await startHarness();
    const d = await openDuplex(h);
    const session = d.session!;
    for (let round = 0; round < 3; round++) {
      d.pump(40);
      await sleep(5);
      const suspended = once(session, 'suspend', 5000);
      d.client.suspend();
      expect(d.client.state).toBe('suspended');
      await suspended;
      expect(session.state).toBe('suspended');
      d.pump(60); // queued by the client, buffered by the session
      await sleep(50);
      expect(d.client.state).toBe('suspended'); // no reconnect on its own
      const resumed = once(d.client, 'resume', 5000);
      d.client.connect();
      expect(d.client.state).toBe('reconnecting');
      await resumed;
      d.pump(20);
    }
    await waitFor(() => d.complete, { timeoutMs: 5000 });
    expect(d.up.verdict()).toMatchObject({ sent: 360, received: 360, ...ZERO });
    expect(d.down.verdict()).toMatchObject({ sent: 360, received: 360, ...ZERO });
    expect(h.sessions).toHaveLength(1);
  });

  it('a session that expired while suspended is reported lost on connect(), with what was queued', async () => {
    h = await startHarness({ sessionTtlMs: 100 });
    const d = await openDuplex(h);
    const ended = once<[string]>(d.session!, 'close', 5000);
    d.client.suspend();
    expect((await ended)[0]).toBe('expired');
    d.client.send({ n: 'queued' });
    const lost = once<[{ reason: string; unconfirmed: unknown[] }]>(d.client, 'session-lost', 5000);
    d.client.connect();
    const [info] = await lost;
    expect(info).toMatchObject({ reason: 'session-expired', unconfirmed: [{ n: 'queued' }] });
    await waitForState(d.client, 'open');
    expect(h.sessions).toHaveLength(2);
  });
});
