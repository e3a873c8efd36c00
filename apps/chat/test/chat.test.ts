import { createFaultProxy, type FaultProxy, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_PATH } from '../src/server/app.js';
import { HISTORY_LIMIT } from '../src/shared/messages.js';
import { type ChatHarness, startChatHarness } from './harness.js';

let harness: ChatHarness;
let proxy: FaultProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await harness?.close();
});

describe('rooms', () => {
  it('welcomes a session with its public id and the rooms', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('  ada  ');
    const welcome = await ada.next('welcome');
    expect(welcome.nick).toBe('ada');
    expect(welcome.id).toMatch(/^[\w-]{8}$/);
    expect(welcome.rooms.map((r) => r.name)).toEqual(['general', 'random', 'dev', 'help']);
    expect(welcome.id).not.toBe(ada.client.sessionId);
  });

  it('refuses a session without a nickname', async () => {
    harness = await startChatHarness();
    const nobody = harness.connect('   ');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      nobody.client.once('close', resolve),
    );
    // The server logs why; the client is only told the code.
    await expect(closed).resolves.toMatchObject({ code: 4503 });
  });

  it('delivers a message to the members of its room only, with per-room sequence numbers', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    const cy = harness.connect('cy');
    ada.send({ type: 'join', room: 'general' });
    bob.send({ type: 'join', room: 'general' });
    cy.send({ type: 'join', room: 'random' });
    await Promise.all([ada, bob, cy].map((c) => c.next('joined')));

    ada.send({ type: 'say', room: 'general', cid: 'a1', text: ' hello general ' });
    cy.send({ type: 'say', room: 'random', cid: 'c1', text: 'hello random' });
    // Two clients, two connections: bob answers once ada's line is there.
    await ada.next('message');
    bob.send({ type: 'say', room: 'general', cid: 'b1', text: 'hi ada' });

    await waitFor(() => ada.texts('general').length === 2 && bob.texts('general').length === 2);
    await cy.next('message');
    expect(ada.texts('general')).toEqual(['hello general', 'hi ada']);
    expect(bob.texts('general')).toEqual(['hello general', 'hi ada']);
    expect(cy.texts('random')).toEqual(['hello random']);
    expect(cy.texts('general')).toEqual([]);

    const [first, second] = ada.all('message').map((m) => m.message);
    expect(first).toMatchObject({ room: 'general', seq: 1, nick: 'ada', cid: 'a1' });
    expect(second).toMatchObject({ room: 'general', seq: 2, nick: 'bob', cid: 'b1' });
    expect(first!.ts).toBeLessThanOrEqual(second!.ts);
    expect(cy.all('message')[0]!.message.seq).toBe(1);
  });

  it('moves a session between rooms and tells both rooms', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    ada.send({ type: 'join', room: 'general' });
    await ada.next('joined');
    bob.send({ type: 'join', room: 'general' });
    const bobWelcome = await bob.next('welcome');
    await ada.next('presence', (m) => m.member.nick === 'bob');

    ada.send({ type: 'join', room: 'dev' });
    ada.send({ type: 'say', room: 'dev', cid: 'd1', text: 'in dev now' });
    await ada.next('message');
    bob.send({ type: 'join', room: 'dev' });
    const joined = await bob.next('joined', (m) => m.room === 'dev');
    expect(joined.history.map((m) => m.text)).toEqual(['in dev now']);
    expect(joined.members.map((m) => m.nick).sort()).toEqual(['ada', 'bob']);
    await ada.next('presence', (m) => m.room === 'dev' && m.member.id === bobWelcome.id);

    await waitFor(() =>
      ada.all('rooms').some((m) => m.rooms.find((r) => r.name === 'dev')?.members === 2),
    );
    expect(harness.server.chat.membersOf('general')).toEqual([]);
    expect(harness.server.chat.roomSummaries()).toContainEqual({ name: 'dev', members: 2 });
  });

  it('refuses a message for a room the sender is not in, or an empty one', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    ada.send({ type: 'join', room: 'general' });
    ada.send({ type: 'say', room: 'help', cid: 'x1', text: 'wrong room' });
    ada.send({ type: 'say', room: 'general', cid: 'x2', text: '   ' });
    await waitFor(() => ada.all('rejected').length === 2);
    expect(ada.all('rejected')).toEqual([
      { type: 'rejected', cid: 'x1', reason: 'not in #help' },
      { type: 'rejected', cid: 'x2', reason: 'empty message' },
    ]);
    expect(harness.server.chat.history('general').size).toBe(0);
    expect(harness.server.chat.history('help').size).toBe(0);
  });

  it('stores a re-sent message (same client id) once and echoes it to its author only', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    ada.send({ type: 'join', room: 'general' });
    bob.send({ type: 'join', room: 'general' });
    await bob.next('joined');
    ada.send({ type: 'say', room: 'general', cid: 'same', text: 'once' });
    ada.send({ type: 'say', room: 'general', cid: 'same', text: 'once' });
    ada.send({ type: 'say', room: 'general', cid: 'other', text: 'after' });
    await waitFor(() => ada.texts('general').length === 3 && bob.texts('general').length === 2);
    expect(ada.all('message').map((m) => m.message.seq)).toEqual([1, 1, 2]);
    expect(bob.texts('general')).toEqual(['once', 'after']);
    expect(harness.server.chat.history('general').size).toBe(2);
  });

  it('reports the probe round-trip time to each open session', async () => {
    harness = await startChatHarness({ linkIntervalMs: 100 });
    const ada = harness.connect('ada');
    const link = await ada.next('link', (m) => m.rttMs !== null, 5000);
    expect(link.rttMs).toBeGreaterThanOrEqual(0);
    expect(link).toMatchObject({ probeIntervalMs: 200, probeTimeoutMs: 200 });
    expect(link.sessions.open).toBe(1);
  });
});

describe('history', () => {
  it(`keeps the last ${HISTORY_LIMIT} messages of a room for late joiners`, async () => {
    // Far faster than the default rate limit allows.
    harness = await startChatHarness({ rateLimit: { perSecond: 1000, burst: 1000 } });
    const ada = harness.connect('ada');
    ada.send({ type: 'join', room: 'general' });
    const total = HISTORY_LIMIT + 50;
    for (let i = 1; i <= total; i++) {
      ada.send({ type: 'say', room: 'general', cid: `m${i}`, text: `message ${i}` });
    }
    await waitFor(() => ada.all('message').length === total, { timeoutMs: 15_000 });
    expect(harness.server.chat.history('general').size).toBe(HISTORY_LIMIT);
    expect(harness.server.chat.history('general').lastSeq).toBe(total);

    const late = harness.connect('late');
    late.send({ type: 'join', room: 'general' });
    const { history } = await late.next('joined');
    expect(history).toHaveLength(HISTORY_LIMIT);
    expect(history[0]).toMatchObject({ seq: 51, text: 'message 51', nick: 'ada' });
    expect(history.at(-1)).toMatchObject({ seq: total, text: `message ${total}` });
    expect(history.map((m) => m.seq)).toEqual(
      Array.from({ length: HISTORY_LIMIT }, (_, i) => 51 + i),
    );
  });

  it('honours a smaller limit and keeps rooms apart', async () => {
    harness = await startChatHarness({ historyLimit: 3 });
    const ada = harness.connect('ada');
    ada.send({ type: 'join', room: 'help' });
    for (let i = 1; i <= 5; i++)
      ada.send({ type: 'say', room: 'help', cid: `h${i}`, text: `h${i}` });
    await waitFor(() => ada.all('message').length === 5);
    const late = harness.connect('late');
    late.send({ type: 'join', room: 'help' });
    late.send({ type: 'join', room: 'general' });
    const help = await late.next('joined', (m) => m.room === 'help');
    const general = await late.next('joined', (m) => m.room === 'general');
    expect(help.history.map((m) => m.text)).toEqual(['h3', 'h4', 'h5']);
    expect(general.history).toEqual([]);
  });
});

describe('presence', () => {
  it('shows a member as reconnecting while its session is suspended, online when it resumes, and gone when it closes', async () => {
    harness = await startChatHarness();
    proxy = await createFaultProxy({ targetPort: harness.server.port });
    const ada = harness.connect('ada');
    const bob = harness.connect('bob', { url: proxy.url(PROBE_PATH) });
    ada.send({ type: 'join', room: 'general' });
    await ada.next('joined');
    bob.send({ type: 'join', room: 'general' });
    const { id: bobId } = await bob.next('welcome');
    const joined = await bob.next('joined');
    expect(joined.members.map((m) => [m.nick, m.status]).sort()).toEqual([
      ['ada', 'online'],
      ['bob', 'online'],
    ]);
    await ada.next('presence', (m) => m.member.id === bobId && m.member.status === 'online');

    // A half-open path: bob's bytes vanish and his reconnects are refused until we say so.
    proxy.refuse(true);
    proxy.blackholeAll();
    const away = await ada.next('presence', (m) => m.member.status === 'reconnecting', 5000);
    expect(away.member).toEqual({ id: bobId, nick: 'bob', status: 'reconnecting' });
    expect(harness.server.chat.membersOf('general')).toContainEqual(away.member);

    // Meanwhile ada keeps talking; bob must get it after the resume.
    ada.send({ type: 'say', room: 'general', cid: 'a1', text: 'are you there?' });
    await ada.next('message');

    proxy.refuse(false);
    const back = await ada.next(
      'presence',
      (m) =>
        m.member.id === bobId &&
        m.member.status === 'online' &&
        ada.all('presence').indexOf(m) > ada.all('presence').indexOf(away),
      10_000,
    );
    expect(back.member.status).toBe('online');
    const resumed = await bob.next('resumed');
    expect(resumed.reason).toBe('probe-timeout');
    expect(resumed.replayedToClient).toBeGreaterThanOrEqual(1);
    await waitFor(() => bob.texts('general').includes('are you there?'));
    expect(bob.texts('general')).toEqual(['are you there?']);
    expect(bob.states).toContain('reconnecting');

    bob.client.close();
    const left = await ada.next('left', (m) => m.id === bobId);
    expect(left.room).toBe('general');
    await waitFor(() => harness.server.chat.membersOf('general').length === 1);
    expect(harness.server.chat.membersOf('general')).toEqual([
      expect.objectContaining({ nick: 'ada', status: 'online' }),
    ]);
  });
});

describe('http', () => {
  it('serves the info endpoint and refuses paths outside the web root', async () => {
    harness = await startChatHarness({ webRoot: new URL('../src/web/', import.meta.url).pathname });
    const base = `http://127.0.0.1:${harness.server.port}`;
    const info = await fetch(`${base}/api/info`).then((r) => r.json());
    expect(info).toMatchObject({
      probe: { probeIntervalMs: 200, probeTimeoutMs: 200 },
      sessions: { open: 0, suspended: 0 },
    });
    expect(info.rooms).toHaveLength(4);
    const css = await fetch(`${base}/style.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const outside = await fetch(`${base}/..%2f..%2fpackage.json`);
    expect(outside.status).toBe(404);
    expect((await fetch(`${base}/nope.js`)).status).toBe(404);
  });
});
