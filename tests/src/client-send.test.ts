import { ProbeError } from '@probe/client';
import { CloseCode } from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

let h: Harness;
afterEach(async () => h?.close());

describe('client: what send() promises', () => {
  it("refuses a message over the server's maxPayloadBytes at once; the session carries on", async () => {
    h = await startHarness({ maxPayloadBytes: 1024 });
    const client = h.client();
    await waitForState(client, 'open');
    const received: unknown[] = [];
    h.sessions[0]!.on('message', (m) => received.push(m));
    let error: unknown;
    try {
      client.send('x'.repeat(2000));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ProbeError);
    expect(error).toMatchObject({ code: 'too-large' });
    expect((error as Error).message).toMatch(/limit of 1024/);
    client.send('small');
    await waitFor(() => received.length === 1);
    expect(received).toEqual(['small']);
    expect(client.state).toBe('open');
  });

  it('autoConnect: false queues send() until connect(), then delivers in order', async () => {
    h = await startHarness();
    const client = h.client({ autoConnect: false });
    client.send(1);
    client.send(2);
    await sleep(50);
    expect(h.proxy.connections).toHaveLength(0);
    client.connect();
    await waitForState(client, 'open');
    const received: unknown[] = [];
    h.sessions[0]!.on('message', (m) => received.push(m));
    client.send(3);
    await waitFor(() => received.length === 3);
    expect(received).toEqual([1, 2, 3]);
  });

  it('giving up reports every unacknowledged message, including those written to a dead path', async () => {
    h = await startHarness();
    const client = h.client({ reconnect: { maxAttempts: 1 } });
    await waitForState(client, 'open');
    const closed = once<[{ code: number; unconfirmed: unknown[]; unsent: unknown[] }]>(
      client,
      'close',
      5000,
    );
    h.proxy.refuse(true);
    h.proxy.latest()!.blackhole();
    client.send('written'); // to a path that swallows it
    await once(client, 'disconnect', 5000);
    client.send('queued');
    const [info] = await closed;
    expect(info.code).toBe(CloseCode.ABNORMAL);
    expect(info.unconfirmed).toEqual(['written', 'queued']);
    expect(info.unsent).toEqual(['queued']);
  });
});
