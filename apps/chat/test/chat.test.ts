import { createFaultProxy, type FaultProxy, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_PATH } from '../src/server/app.js';
import { HISTORY_LIMIT } from '../src/shared/schema.js';
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
    // The join reply says who we are too (a recovered page gets no welcome).
    const joined = await ada.join('dev');
    expect(joined.you).toEqual({ id: welcome.id, nick: 'ada', status: 'online' });
    expect(joined.rooms).toContainEqual({ name: 'dev', members: 1 });
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
    await Promise.all([ada.join('general'), bob.join('general'), cy.join('random')]);

    ada.post('general', 'a1', ' hello general ');
    cy.post('random', 'c1', 'hello random');
    // Two clients, two connections: bob answers once ada's line is there.
    await ada.next('posted');
    bob.post('general', 'b1', 'hi ada');

    await waitFor(() => ada.texts('general').length === 2 && bob.texts('general').length === 2);
    await cy.next('posted');
    expect(ada.texts('general')).toEqual(['hello general', 'hi ada']);
    expect(bob.texts('general')).toEqual(['hello general', 'hi ada']);
    expect(cy.texts('random')).toEqual(['hello random']);
    expect(cy.texts('general')).toEqual([]);

    const [first, second] = ada.all('posted');
    expect(first).toMatchObject({ room: 'general', seq: 1, nick: 'ada', cid: 'a1' });
    expect(second).toMatchObject({ room: 'general', seq: 2, nick: 'bob', cid: 'b1' });
    expect(first!.ts).toBeLessThanOrEqual(second!.ts);
    expect(cy.all('posted')[0]!.seq).toBe(1);
  });

  it('moves a session between rooms and tells both rooms', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await ada.join('general');
    await bob.join('general');
    const bobWelcome = await bob.next('welcome');
    await ada.next('presence', (m) => m.member.nick === 'bob');

    void ada.join('dev');
    ada.post('dev', 'd1', 'in dev now');
    await ada.next('posted');
    const joined = await bob.join('dev');
    expect(joined.room).toBe('dev');
    expect(joined.history.map((m) => m.text)).toEqual(['in dev now']);
    expect(joined.members.map((m) => m.nick).sort()).toEqual(['ada', 'bob']);
    await ada.next('presence', (m) => m.room === 'dev' && m.member.id === bobWelcome.id);

    await waitFor(() =>
      ada.all('rooms').some((m) => m.rooms.find((r) => r.name === 'dev')?.members === 2),
    );
    expect(harness.server.chat.membersOf('general')).toEqual([]);
    expect(harness.server.chat.roomSummaries()).toContainEqual({ name: 'dev', members: 2 });
  });

  it('refuses a post for a room the sender is not in, or an empty one', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    void ada.join('general');
    ada.post('help', 'x1', 'wrong room');
    ada.post('general', 'x2', '   ');
    await waitFor(() => ada.all('rejected').length === 2);
    // Malformed ones are refused at once, the others in turn with the session's work.
    const byCid = ada.all('rejected').sort((x, y) => x.cid.localeCompare(y.cid));
    expect(byCid).toEqual([
      { cid: 'x1', code: 'not-in-room', reason: 'not in #help' },
      { cid: 'x2', code: 'invalid', reason: 'empty message' },
    ]);
    expect(harness.server.chat.history('general').size).toBe(0);
    expect(harness.server.chat.history('help').size).toBe(0);
  });

  it('stores a re-sent message (same client id) once and echoes it to its author only', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await Promise.all([ada.join('general'), bob.join('general')]);
    ada.post('general', 'same', 'once');
    ada.post('general', 'same', 'once');
    ada.post('general', 'other', 'after');
    await waitFor(() => ada.texts('general').length === 3 && bob.texts('general').length === 2);
    expect(ada.all('posted').map((m) => m.seq)).toEqual([1, 1, 2]);
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
    void ada.join('general');
    const total = HISTORY_LIMIT + 50;
    for (let i = 1; i <= total; i++) ada.post('general', `m${i}`, `message ${i}`);
    await waitFor(() => ada.all('posted').length === total, { timeoutMs: 15_000 });
    expect(harness.server.chat.history('general').size).toBe(HISTORY_LIMIT);
    expect(harness.server.chat.history('general').lastSeq).toBe(total);

    const late = harness.connect('late');
    const { history } = await late.join('general');
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
    void ada.join('help');
    for (let i = 1; i <= 5; i++) ada.post('help', `h${i}`, `h${i}`);
    await waitFor(() => ada.all('posted').length === 5);
    const late = harness.connect('late');
    const [help, general] = await Promise.all([late.join('help'), late.join('general')]);
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
    await ada.join('general');
    const joined = await bob.join('general');
    const { id: bobId } = await bob.next('welcome');
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
    ada.post('general', 'a1', 'are you there?');
    await ada.next('posted');

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

describe('typing', () => {
  it('reaches the other members of the room, volatile: never queued for or replayed to a member who was away', async () => {
    harness = await startChatHarness();
    proxy = await createFaultProxy({ targetPort: harness.server.port });
    const ada = harness.connect('ada');
    const bob = harness.connect('bob', { url: proxy.url(PROBE_PATH) });
    const cy = harness.connect('cy');
    await Promise.all([ada.join('general'), bob.join('general'), cy.join('dev')]);
    const { id: adaId } = await ada.next('welcome');

    expect(ada.client.emit('typing', { room: 'general' }, { volatile: true })).toBe(true);
    expect(await bob.next('typing')).toEqual({
      room: 'general',
      member: { id: adaId, nick: 'ada' },
    });
    // Not to the typer, nor to another room; a post in the same order shows it is all there.
    ada.post('general', 'a1', 'typed');
    cy.post('dev', 'c1', 'elsewhere');
    await Promise.all([ada.next('posted'), cy.next('posted')]);
    expect(ada.all('typing')).toEqual([]);
    expect(cy.all('typing')).toEqual([]);

    // Bob's path goes silent: ada types while his session is suspended.
    proxy.refuse(true);
    proxy.blackholeAll();
    await ada.next(
      'presence',
      (m) => m.member.nick === 'bob' && m.member.status === 'reconnecting',
    );
    ada.client.emit('typing', { room: 'general' }, { volatile: true });
    ada.post('general', 'a2', 'while you were away');
    await ada.next('posted', (m) => m.cid === 'a2');
    proxy.refuse(false);
    await bob.next('resumed', undefined, 10_000);
    await waitFor(() => bob.texts('general').includes('while you were away'));
    // The post was replayed; the typing notice was not.
    expect(bob.texts('general')).toEqual(['typed', 'while you were away']);
    expect(bob.all('typing')).toHaveLength(1);
  });
});

describe('reload recovery', () => {
  it('a client built from the recovery key continues the same session: every post stored once, every event delivered once', async () => {
    harness = await startChatHarness();
    let sessions = 0;
    harness.server.probe.on('session', () => sessions++);
    const auth = { nick: 'ada', key: 'tab-secret-0123456789abcdef' };
    const before = harness.connect('ada', { auth });
    const bob = harness.connect('bob');
    await Promise.all([before.join('general'), bob.join('general')]);
    before.post('general', 'a1', 'before');
    await before.next('posted');

    // The page goes away: one post written just before, one typed after the client stopped.
    before.post('general', 'a2', 'just before the reload');
    before.client.suspend();
    before.post('general', 'a3', 'queued');
    const key = before.client.recoveryKey()!;
    expect(key).toEqual(expect.any(String));
    bob.post('general', 'b1', 'meanwhile');

    const after = harness.connect('ada', { auth, recover: key });
    const joined = await after.join('general');
    expect(after.client.sessionId).toBe(before.client.sessionId);
    expect(joined.you.id).toBe((await before.next('welcome')).id);
    await after.next('resumed');
    await waitFor(() => bob.texts('general').length === 4);
    const texts = ['before', 'just before the reload', 'queued', 'meanwhile'];
    expect(bob.texts('general').sort()).toEqual([...texts].sort());
    const stored = harness.server.chat.history('general').snapshot();
    expect(stored.map((m) => m.text).sort()).toEqual([...texts].sort());
    // The join's history holds everything before it, and both pages together got each event
    // once: nothing the first page received came again.
    expect(joined.history.map((m) => m.text)).toEqual(expect.arrayContaining(texts.slice(0, 3)));
    const seqs = [...before.all('posted'), ...after.all('posted')].map((m) => m.seq);
    expect(seqs.sort((x, y) => x - y)).toEqual([1, 2, 3, 4]);
    // One session throughout: no new one (ada's and bob's only), no second welcome.
    expect(sessions).toBe(2);
    expect(after.all('welcome')).toEqual([]);
    expect(harness.server.probe.stats().sessions).toEqual({ open: 2, suspended: 0 });
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
