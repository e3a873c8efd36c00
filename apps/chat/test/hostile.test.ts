import { ProbeError, RequestError } from '@probe/client';
import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { RESTART_REFUSED } from '../src/server/chat.js';
import type { RoomName } from '../src/shared/schema.js';
import { type ChatHarness, type ChatTestClient, startChatHarness } from './harness.js';

// What a hostile member can try with a hand-written client: the page never sends any of this.

let harness: ChatHarness;

afterEach(async () => {
  await harness?.close();
});

async function join(room: RoomName, ...clients: ChatTestClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.join(room)));
}

/** What a request settled with: its reply, or its error. */
function settle(promise: Promise<unknown>): Promise<{ value?: unknown; error?: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

const huge = 'x'.repeat(200_000);

describe('message ids', () => {
  it("does not let one member suppress another's message by posting its id first", async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    const { id: adaId } = await ada.next('welcome');
    await join('general', ada, bob);

    bob.post('general', 'ada-next', 'squatting');
    await ada.next('posted', (m) => m.text === 'squatting');
    ada.post('general', 'ada-next', 'from ada');

    const seen = await bob.next('posted', (m) => m.text === 'from ada');
    expect(seen).toMatchObject({ from: adaId, nick: 'ada', seq: 2 });
    await ada.next('posted', (m) => m.text === 'from ada');
    expect(harness.server.chat.history('general').size).toBe(2);
  });

  it('recognises a re-send from a new session of the same tab by its secret key only', async () => {
    harness = await startChatHarness();
    const key = 'tab-secret-0123456789abcdef';
    const first = harness.connect('ada', { auth: { nick: 'ada', key } });
    await join('general', first);
    first.post('general', 'c1', 'once');
    await first.next('posted');
    first.client.close();

    // The same tab after its session was lost: same key, new session, new public id.
    const again = harness.connect('ada', { auth: { nick: 'ada', key } });
    const other = harness.connect('eve', {
      auth: { nick: 'eve', key: 'another-secret-0123456789' },
    });
    await join('general', again, other);
    again.post('general', 'c1', 'once');
    const echo = await again.next('posted');
    expect(echo).toMatchObject({ seq: 1, text: 'once' });
    other.post('general', 'c1', 'mine');
    await other.next('posted', (m) => m.text === 'mine');
    expect(
      harness.server.chat
        .history('general')
        .snapshot()
        .map((m) => m.text),
    ).toEqual(['once', 'mine']);
    expect(other.all('posted').map((m) => m.text)).toEqual(['mine']);
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
  it('refuses posts and requests over the limit, telling the sender only', async () => {
    harness = await startChatHarness({ rateLimit: { perSecond: 10, burst: 5 } });
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await join('general', ada, bob);
    // The joins took a token each; wait for them to come back.
    await new Promise((resolve) => setTimeout(resolve, 300));

    for (let i = 1; i <= 15; i++) ada.post('general', `a${i}`, `a${i}`);
    await waitFor(() => ada.all('posted').length + ada.all('rejected').length === 15);
    const accepted = ada.all('posted').length;
    // Five from the burst, and at most a token or two refilled while they arrived.
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(accepted).toBeLessThanOrEqual(7);
    for (const rejected of ada.all('rejected')) {
      expect(rejected.cid).toMatch(/^a\d+$/);
      expect(rejected.code).toBe('rate-limited');
      expect(rejected.reason).toMatch(/too many messages/);
    }
    // A request over the limit fails with the same code.
    const refused = await settle(ada.join('general'));
    expect(refused.error).toBeInstanceOf(RequestError);
    expect(refused.error).toMatchObject({ code: 'rate-limited' });

    // Bob has his own bucket, and nobody hears about ada's refused posts.
    for (let i = 1; i <= 5; i++) bob.post('general', `b${i}`, `b${i}`);
    await waitFor(() => bob.texts('general').filter((t) => t.startsWith('b')).length === 5);
    expect(bob.all('rejected')).toEqual([]);
    expect(bob.texts('general').filter((t) => t.startsWith('a'))).toHaveLength(accepted);

    // The bucket refills: after a moment ada may post again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    ada.post('general', 'later', 'later');
    await bob.next('posted', (m) => m.text === 'later');
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
    const joined = await ada.raw.emitWithAck('join', { room: '\u202Bdev\u200B' });
    expect(joined).toMatchObject({ room: 'dev' });
    const refused = await settle(ada.raw.emitWithAck('join', { room: '\u202Elobby\u0000' }));
    expect(refused.error).toMatchObject({ code: 'invalid', message: "unknown room 'lobby'" });
  });
});

describe('hostile payloads', () => {
  it('refuses malformed posts with an invalid notice instead of coercing them', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await join('general', ada, bob);
    const hostile: unknown[] = [
      42,
      'general',
      null,
      ['general', 'h0', 'x'],
      { room: ['general'], cid: 'h1', text: 'x' },
      { room: { toString: 1 }, cid: 'h2', text: 'x' },
      { room: huge, cid: 'h3', text: 'x' },
      { room: 'general', cid: 7, text: 'x' },
      { room: 'general', cid: huge, text: 'x' },
      { room: 'general', cid: 'bad\u202Eid', text: 'x' },
      { room: 'general', cid: 'h4', text: { toString: 1 } },
      { room: 'general', cid: 'h5', text: ['x'] },
      { room: 'general', cid: 'h6', text: huge.slice(0, 5000) },
    ];
    for (const data of hostile) ada.raw.emit('post', data);
    await waitFor(() => ada.all('rejected').length === hostile.length);
    for (const { code, reason } of ada.all('rejected')) {
      expect(code).toBe('invalid');
      expect(reason.length).toBeLessThan(120);
    }
    // A refusal names the post only by a well-formed id of its own.
    expect(ada.all('rejected').map((r) => r.cid)).toEqual([
      '',
      '',
      '',
      '',
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
    ada.post('general', 'ok', 'still here');
    await bob.next('posted', (m) => m.text === 'still here');
    expect(bob.all('posted')).toHaveLength(1);
    expect(bob.all('rejected')).toEqual([]);
  });

  it('refuses malformed requests with a RequestError, unknown ones with no-handler', async () => {
    harness = await startChatHarness();
    const serverErrors: unknown[] = [];
    harness.server.probe.on('error', (error) => serverErrors.push(error));
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await join('general', ada, bob);
    const hostile: unknown[] = [
      undefined,
      7,
      'general',
      ['general'],
      { room: 5 },
      { room: ['general'] },
      { room: { toString: 'general' } },
      { room: huge },
      { room: '__proto__' },
    ];
    const outcomes = await Promise.all(hostile.map((p) => settle(ada.raw.emitWithAck('join', p))));
    for (const { error } of outcomes) {
      expect(error).toBeInstanceOf(RequestError);
      expect(error).toMatchObject({ code: 'invalid' });
      expect((error as Error).message.length).toBeLessThan(120);
    }
    // A single node refuses to restart, whatever the payload.
    const restart = await settle(ada.raw.emitWithAck('restart-node', { now: huge.slice(0, 100) }));
    expect(restart.error).toMatchObject({ code: 'refused', message: RESTART_REFUSED });
    // Names the chat does not answer: Probe refuses them.
    const unknown = await settle(ada.raw.emitWithAck('drop-tables', { room: 'general' }));
    expect(unknown.error).toMatchObject({ code: 'no-handler' });
    // A reserved name never leaves the client.
    expect(() => ada.raw.emit('message', 1)).toThrow(ProbeError);

    // Still in #general, still posting; nobody else was told anything.
    ada.post('general', 'ok', 'still here');
    await bob.next('posted', (m) => m.text === 'still here');
    expect(bob.all('rejected')).toEqual([]);
    expect(serverErrors).toEqual([]);
  });

  it('refuses malformed typing notices, relays none of them, and drops a flood quietly', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await join('general', ada, bob);
    for (const data of [null, { room: 9 }, { room: huge }]) {
      ada.raw.emit('typing', data, { volatile: true });
    }
    await waitFor(() => ada.all('rejected').length === 3);
    expect(ada.all('rejected').map((r) => r.code)).toEqual(['invalid', 'invalid', 'invalid']);
    // Over the typing limit: dropped without a word (volatile; nobody is owed one).
    for (let i = 0; i < 50; i++) ada.raw.emit('typing', 'x', { volatile: true });
    // For a room ada is not in: not relayed to anyone.
    const cy = harness.connect('cy');
    await join('dev', cy);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    ada.raw.emit('typing', { room: 'dev' }, { volatile: true });
    ada.post('general', 'ok', 'after the flood');
    await bob.next('posted', (m) => m.text === 'after the flood');
    expect(ada.all('rejected').length).toBeLessThanOrEqual(5);
    expect(bob.all('typing')).toEqual([]);
    expect(cy.all('typing')).toEqual([]);
  });

  it('refuses plain messages and ignores event names the chat does not use', async () => {
    harness = await startChatHarness();
    const ada = harness.connect('ada');
    const bob = harness.connect('bob');
    await join('general', ada, bob);
    ada.client.send({ type: 'say', room: 'general', cid: 'old', text: 'old protocol' });
    const rejected = await ada.next('rejected');
    expect(rejected).toMatchObject({ cid: '', code: 'invalid' });
    ada.raw.emit('posted', { room: 'general', seq: 1, text: 'forged' });
    ada.raw.emit('x'.repeat(128), huge.slice(0, 1000));
    ada.post('general', 'ok', 'real');
    await bob.next('posted');
    expect(bob.texts('general')).toEqual(['real']);
    expect(harness.server.chat.history('general').size).toBe(1);
  });
});
