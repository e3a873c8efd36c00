import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientMessage } from '../src/shared/messages.js';
import { type ChatHarness, type ChatTestClient, startChatHarness } from './harness.js';

// What a hostile member can try with a hand-written client: the page never sends any of this.

let harness: ChatHarness;

afterEach(async () => {
  await harness?.close();
});

/** Sends anything at all, bypassing the message types. */
function sendRaw(client: ChatTestClient, data: unknown): void {
  client.send(data as ClientMessage);
}

async function joinGeneral(...clients: ChatTestClient[]): Promise<void> {
  for (const client of clients) client.send({ type: 'join', room: 'general' });
  await Promise.all(clients.map((c) => c.next('joined')));
}

describe('message ids', () => {
  it("does not let one member suppress another's message by posting its id first", async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    const { id: adaId } = await ada.next('welcome');
    await joinGeneral(ada, bob);

    bob.send({ type: 'say', room: 'general', cid: 'ada-next', text: 'squatting' });
    await ada.next('message', (m) => m.message.text === 'squatting');
    ada.send({ type: 'say', room: 'general', cid: 'ada-next', text: 'from ada' });

    const seen = await bob.next('message', (m) => m.message.text === 'from ada');
    expect(seen.message).toMatchObject({ from: adaId, nick: 'ada', seq: 2 });
    await ada.next('message', (m) => m.message.text === 'from ada');
    expect(harness.server.chat.history('general').size).toBe(2);
  });

  it('recognises a re-send from a new session of the same tab by its secret key only', async () => {
    harness = await startChatHarness();
    const key = 'tab-secret-0123456789abcdef';
    const first = harness.connect('ada', { auth: { nick: 'ada', key } });
    await joinGeneral(first);
    first.send({ type: 'say', room: 'general', cid: 'c1', text: 'once' });
    await first.next('message');
    first.client.close();

    // The same tab after its session was lost: same key, new session, new public id.
    const again = harness.connect('ada', { auth: { nick: 'ada', key } });
    const other = harness.connect('eve', {
      auth: { nick: 'eve', key: 'another-secret-0123456789' },
    });
    await joinGeneral(again, other);
    again.send({ type: 'say', room: 'general', cid: 'c1', text: 'once' });
    const echo = await again.next('message');
    expect(echo.message).toMatchObject({ seq: 1, text: 'once' });
    other.send({ type: 'say', room: 'general', cid: 'c1', text: 'mine' });
    await other.next('message', (m) => m.message.text === 'mine');
    expect(
      harness.server.chat
        .history('general')
        .snapshot()
        .map((m) => m.text),
    ).toEqual(['once', 'mine']);
    expect(other.all('message').map((m) => m.message.text)).toEqual(['mine']);
  });

  it('refuses a session whose key is not a proper secret', async () => {
    harness = await startChatHarness();
    const weak = harness.connect('ada', { auth: { nick: 'ada', key: 42 } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      weak.client.once('close', resolve),
    );
    // Refused (the reason is logged on the server; the client only learns the code).
    await expect(closed).resolves.toMatchObject({ code: 4503 });
  });
});

describe('rate limit', () => {
  it('refuses posts over the limit with a notice to the sender only', async () => {
    harness = await startChatHarness({ rateLimit: { perSecond: 10, burst: 5 } });
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await joinGeneral(ada, bob);
    // The joins took a token each; wait for them to come back.
    await new Promise((resolve) => setTimeout(resolve, 300));

    for (let i = 1; i <= 15; i++) {
      ada.send({ type: 'say', room: 'general', cid: `a${i}`, text: `a${i}` });
    }
    await waitFor(() => ada.all('message').length + ada.all('rejected').length === 15);
    const accepted = ada.all('message').length;
    // Five from the burst, and at most a token or two refilled while they arrived.
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(accepted).toBeLessThanOrEqual(7);
    for (const rejected of ada.all('rejected')) {
      expect(rejected.cid).toMatch(/^a\d+$/);
      expect(rejected.reason).toMatch(/too many messages/);
    }

    // Bob has his own bucket, and nobody hears about ada's refused posts.
    for (let i = 1; i <= 5; i++) {
      bob.send({ type: 'say', room: 'general', cid: `b${i}`, text: `b${i}` });
    }
    await waitFor(() => bob.texts('general').filter((t) => t.startsWith('b')).length === 5);
    expect(bob.all('rejected')).toEqual([]);
    expect(bob.texts('general').filter((t) => t.startsWith('a'))).toHaveLength(accepted);

    // The bucket refills: after a moment ada may post again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    ada.send({ type: 'say', room: 'general', cid: 'later', text: 'later' });
    await bob.next('message', (m) => m.message.text === 'later');
  });

  it('refuses nonsensical limits', async () => {
    await expect(startChatHarness({ rateLimit: { perSecond: 0, burst: 5 } })).rejects.toThrow(
      /perSecond/,
    );
    await expect(startChatHarness({ rateLimit: { perSecond: 1, burst: 0.5 } })).rejects.toThrow(
      /burst/,
    );
  });
});

describe('names', () => {
  it('strips bidi controls and invisible characters from nicknames', async () => {
    harness = await startChatHarness();
    const spoof = harness.connect('\u202Eada\u200B\u2066 \uFEFF');
    expect((await spoof.next('welcome')).nick).toBe('ada');

    const invisible = harness.connect('\u200B\u200C\u200D\u2060\u202A\u2069');
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      invisible.client.once('close', resolve),
    );
    await expect(closed).resolves.toMatchObject({ code: 4503 });
  });

  it('cleans room names the same way and never echoes raw ones', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    sendRaw(ada, { type: 'join', room: '\u202Bdev\u200B' });
    expect((await ada.next('joined')).room).toBe('dev');
    sendRaw(ada, { type: 'join', room: '\u202Elobby\u0000' });
    const rejected = await ada.next('rejected');
    expect(rejected.reason).toBe("unknown room 'lobby'");
  });
});

describe('hostile messages', () => {
  it('refuses wrongly typed fields with an error notice instead of coercing them', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await joinGeneral(ada, bob);
    const huge = 'x'.repeat(200_000);
    const hostile: unknown[] = [
      42,
      'general',
      ['say', 'general'],
      { type: 5, room: 'general' },
      { type: { toString: 'say' }, room: 'general' },
      { type: 'join', room: ['general'] },
      { type: 'join', room: { toString: 1 } },
      { type: 'say', room: { toString: 1 }, cid: 'h1', text: 'x' },
      { type: 'say', room: huge, cid: 'h2', text: 'x' },
      { type: huge, room: 'general', cid: 'h3', text: 'x' },
      { type: 'say', room: 'general', cid: 7, text: 'x' },
      { type: 'say', room: 'general', cid: huge, text: 'x' },
      { type: 'say', room: 'general', cid: 'bad\u202Eid', text: 'x' },
      { type: 'say', room: 'general', cid: 'h4', text: { toString: 1 } },
      { type: 'say', room: 'general', cid: 'h5', text: ['x'] },
      { type: 'say', room: 'general', cid: 'h6', text: huge },
    ];
    for (const data of hostile) sendRaw(ada, data);
    await waitFor(() => ada.all('rejected').length === hostile.length);
    for (const { reason } of ada.all('rejected')) expect(reason.length).toBeLessThan(120);
    // A refusal names the message only by a well-formed id of its own.
    expect(ada.all('rejected').map((r) => r.cid)).toEqual([
      ...Array(7).fill(''),
      'h1',
      'h2',
      'h3',
      '',
      '',
      '',
      'h4',
      'h5',
      'h6',
    ]);

    // Nothing was stored, and the session still works.
    expect(harness.server.chat.history('general').size).toBe(0);
    ada.send({ type: 'say', room: 'general', cid: 'ok', text: 'still here' });
    await bob.next('message', (m) => m.message.text === 'still here');
    expect(bob.all('message')).toHaveLength(1);
  });
});
