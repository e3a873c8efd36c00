import { CloseCode } from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

let h: Harness | undefined;
afterEach(async () => h?.close());

describe('a revoked client does not come back', () => {
  it('server.endSessions(): the client closes with 4503 and does not resume', async () => {
    h = await startHarness({ authenticate: (auth) => ({ user: auth }) });
    const client = h.client({ auth: 'ann' });
    await waitForState(client, 'open');
    const closed = once<[{ code: number }]>(client, 'close', 5000);
    expect(h.server.endSessions((s) => (s.data as { user: string }).user === 'ann')).toBe(1);
    expect((await closed)[0].code).toBe(CloseCode.UNAUTHORIZED);
    await sleep(200);
    expect(client.state).toBe('closed');
    expect(h.proxy.stats.accepted).toBe(1);
  });

  it('authorizeResume refusing: the reconnecting client closes with 4503', async () => {
    let allowed = true;
    h = await startHarness({ authorizeResume: () => allowed });
    const client = h.client();
    await waitForState(client, 'open');
    allowed = false;
    const closed = once<[{ code: number }]>(client, 'close', 5000);
    h.proxy.latest()!.reset();
    expect((await closed)[0].code).toBe(CloseCode.UNAUTHORIZED);
    expect(h.sessions[0]!.state).toBe('closed');
  });

  it('maxSessionLifetimeMs: an old session is not resumed; the client starts afresh', async () => {
    h = await startHarness({ maxSessionLifetimeMs: 300 });
    const client = h.client();
    const lost: { code: number }[] = [];
    client.on('session-lost', (info) => lost.push(info));
    await waitForState(client, 'open');
    const first = client.sessionId;
    await sleep(400);
    h.proxy.latest()!.reset();
    await waitFor(() => lost.length === 1 && client.state === 'open', { timeoutMs: 5000 });
    expect(lost[0]!.code).toBe(CloseCode.SESSION_EXPIRED);
    expect(client.sessionId).not.toBe(first);
  });
});
