import { CloseCode } from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST, type Harness, median, recordStates, startHarness, waitForState } from './harness.js';

// Contract: detection within interval + timeout (+ one wheel tick / the client's slack).
// The slack here is generous so the bound holds on a busy 2-core machine.
const BOUND = FAST.probeIntervalMs + FAST.probeTimeoutMs;
const SLACK = 400;

let h: Harness;
afterEach(async () => h?.close());

describe('loss detection', () => {
  it('server and client both notice a blackholed path within interval + timeout', async () => {
    h = await startHarness();
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const conn = h.proxy.latest()!;
    const start = performance.now();
    const serverNoticed = once<[string]>(session, 'suspend', 5000).then(([reason]) => ({
      reason,
      ms: performance.now() - start,
    }));
    const clientNoticed = waitForState(client, 'reconnecting', 5000).then(
      () => performance.now() - start,
    );
    conn.blackhole();
    const server = await serverNoticed;
    const clientMs = await clientNoticed;
    expect(server.reason).toBe('probe-timeout');
    expect(server.ms).toBeLessThan(BOUND + SLACK);
    expect(clientMs).toBeLessThan(BOUND + 50 + SLACK);
    // Both bytes-paths were dead, so neither side could have learnt it from a close frame.
    expect(conn.blackholed).toBe(true);
  });

  it('notices a reset at once and a clean close at once', async () => {
    h = await startHarness();
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const reset = once<[string]>(session, 'suspend', 2000);
    const reopened = once(client, 'open', 5000);
    h.proxy.latest()!.reset();
    expect((await reset)[0]).toBe('reset');
    await reopened;
    const closed = once<[string]>(session, 'suspend', 2000);
    const reopenedAgain = once(client, 'open', 5000);
    h.proxy.latest()!.end();
    expect(['closed', 'reset']).toContain((await closed)[0]);
    await reopenedAgain;
    expect(session.state).toBe('open');
  });

  it('reconnects on its own once a blackholed path is restored', async () => {
    h = await startHarness();
    const client = h.client();
    const states = recordStates(client);
    await waitForState(client, 'open');
    h.proxy.blackholeAll();
    h.proxy.refuse(true);
    await waitForState(client, 'reconnecting');
    await sleep(300);
    h.proxy.refuse(false);
    h.proxy.restoreAll();
    await waitForState(client, 'open', 5000);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(h.sessions).toHaveLength(1);
  });

  it('measures detection latency over 20 blackholes on both sides', async () => {
    h = await startHarness();
    const client = h.client();
    await waitForState(client, 'open');
    const session = h.sessions[0]!;
    const serverMs: number[] = [];
    const clientMs: number[] = [];
    for (let trial = 0; trial < 20; trial++) {
      await waitForState(client, 'open', 5000);
      // Let a probe round trip settle so trials do not start mid-probe every time.
      await sleep(Math.random() * FAST.probeIntervalMs);
      const start = performance.now();
      const serverNoticed = once(session, 'suspend', 5000).then(() => performance.now() - start);
      const clientNoticed = waitForState(client, 'reconnecting', 5000).then(
        () => performance.now() - start,
      );
      h.proxy.latest()!.blackhole();
      serverMs.push(await serverNoticed);
      clientMs.push(await clientNoticed);
    }
    const summary = {
      settings: FAST,
      server: { median: Math.round(median(serverMs)), max: Math.round(Math.max(...serverMs)) },
      client: { median: Math.round(median(clientMs)), max: Math.round(Math.max(...clientMs)) },
    };
    console.log(`detection over 20 blackholes: ${JSON.stringify(summary)}`);
    expect(Math.max(...serverMs)).toBeLessThan(BOUND + SLACK);
    expect(Math.max(...clientMs)).toBeLessThan(BOUND + 50 + SLACK);
  }, 60_000);
});

describe('final close codes', () => {
  it('stops retrying when authentication is refused', async () => {
    h = await startHarness({
      authenticate: (auth) => {
        if (auth !== 'letmein') throw new Error('bad credentials');
        return { user: 'ann' };
      },
    });
    const client = h.client({ auth: 'wrong' });
    const closed = once<[{ code: number; reason: string }]>(client, 'close', 5000);
    const [info] = await closed;
    expect(info.code).toBe(CloseCode.UNAUTHORIZED);
    // The hook's error stays in the server's log; the client gets a stable reason.
    expect(info.reason).toBe('unauthorized');
    expect(h.errors.at(-1)).toMatchObject({
      code: 'unauthorized',
      message: 'Error: bad credentials',
    });
    await sleep(200);
    expect(client.state).toBe('closed');
    expect(h.proxy.stats.accepted).toBe(1);
  });

  it('calls an auth function before every attempt', async () => {
    let calls = 0;
    h = await startHarness({ authenticate: (auth) => ({ token: auth }) });
    const client = h.client({ auth: async () => `token-${++calls}` });
    await waitForState(client, 'open');
    expect(h.sessions[0]!.data).toEqual({ token: 'token-1' });
    h.proxy.latest()!.reset();
    await waitFor(() => calls >= 2, { timeoutMs: 3000 });
    await waitForState(client, 'open');
    // A resume is authorised by the session token, so the session keeps its original data.
    expect(h.sessions).toHaveLength(1);
  });
});
