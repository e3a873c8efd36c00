import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@probe/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatServer, startChatServer } from '../src/server/app.js';
import { buildWebFromSource } from './web-build.js';

// End to end: the built web client in Debian's Chromium, two tabs, the demo's probe settings
// (2 s + 2 s), and one tab's connection cut through its own "Cut my connection" control.

const appDir = fileURLToPath(new URL('..', import.meta.url));
const artifacts = join(appDir, 'test-artifacts');
const webOut = join(artifacts, 'web');
const screenshot = join(artifacts, 'chat-e2e.png');
const executablePath = CHROMIUM_PATH;
/** Generous: two Chromium tabs, Vite and the server share two cores. */
const WAIT = { timeout: 30_000 };

let server: ChatServer;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: apt-get install -y chromium, or set PROBE_CHROMIUM`,
    );
  }
  // A fresh build of the page every run, with @probe/* from source like the server here, so
  // the page and the server always speak the same protocol (and no stale dist/web is used).
  await mkdir(artifacts, { recursive: true });
  await buildWebFromSource(webOut);
  // The page runs the browser build's lean MessagePack codec, not msgpackr.
  const assets = await readdir(join(webOut, 'assets'));
  const scripts = await Promise.all(
    assets.filter((f) => f.endsWith('.js')).map((f) => readFile(join(webOut, 'assets', f), 'utf8')),
  );
  expect(scripts.join('').includes('useRecords')).toBe(false);
  server = await startChatServer({ port: 0, host: '127.0.0.1', webRoot: webOut });
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
}, 60_000);

async function openChat(nick: string, room = 'general'): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  page.on('pageerror', (error) => pageErrors.push(`${nick}: ${error.message}`));
  await page.goto(`${server.url}#${room}`);
  await page.fill('#nick', nick);
  await page.press('#nick', 'Enter');
  await page.waitForSelector('#badge[data-state="open"]');
  await page.waitForSelector(`#members li:has-text("${nick}")`);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

interface Shown {
  seq: string | null;
  nick: string;
  text: string;
  pending: boolean;
}

function shown(page: Page): Promise<Shown[]> {
  return page.$$eval('#messages .msg', (items) =>
    items.map((item) => ({
      seq: item.getAttribute('data-seq'),
      nick: item.querySelector('.nick')?.textContent ?? '',
      text: item.querySelector('.text')?.textContent ?? '',
      pending: item.classList.contains('pending'),
    })),
  );
}

/** Waits until `page` shows `count` delivered messages and nothing pending. */
async function waitForDelivered(page: Page, count: number): Promise<void> {
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll('#messages .msg[data-seq]').length === n &&
      document.querySelectorAll('#messages .msg.pending').length === 0,
    count,
    WAIT,
  );
}

describe('chat in the browser', () => {
  it('keeps every message exactly once and in order across a cut connection', async () => {
    const alice = await openChat('alice');
    const bob = await openChat('bob');
    await alice.waitForSelector('#members li:has-text("bob")');

    await say(alice, 'a1');
    await say(bob, 'b1');
    await say(alice, 'a2');
    await say(bob, 'b2');
    await Promise.all([waitForDelivered(alice, 4), waitForDelivered(bob, 4)]);

    // Cut alice's connection: a blackhole, no close. Both keep talking.
    await alice.selectOption('#cut-seconds', '8');
    await alice.click('#cut');
    await alice.waitForSelector('#cut[data-active="true"]');
    for (const i of [3, 4, 5]) {
      await say(alice, `a${i}`);
      await say(bob, `b${i}`);
      await alice.waitForTimeout(150);
    }
    // Alice's messages wait, grey; bob's do not reach her.
    const during = await shown(alice);
    expect(await alice.evaluate(() => window.probeChat?.link.isCut), 'still cut').toBe(true);
    expect(during.filter((m) => m.pending).map((m) => m.text)).toEqual(['a3', 'a4', 'a5']);
    expect(during.map((m) => m.text)).not.toContain('b3');
    await waitForDelivered(bob, 7);

    // Bob sees alice go "reconnecting" once the server's probe goes unanswered.
    await bob.waitForSelector('#members li[data-status="reconnecting"]:has-text("alice")');
    await alice.waitForFunction(
      () => window.probeChat?.badgeLog.includes('reconnecting'),
      null,
      WAIT,
    );
    // After the cut: resumed, replayed, delivered.
    await alice.waitForSelector('#cut[data-active="false"]');
    await alice.waitForFunction(() => window.probeChat?.badgeLog.at(-1) === 'open', null, WAIT);
    await Promise.all([waitForDelivered(alice, 10), waitForDelivered(bob, 10)]);
    await bob.waitForSelector('#members li[data-status="online"]:has-text("alice")');

    await say(alice, 'a6');
    await say(bob, 'b6');
    await Promise.all([waitForDelivered(alice, 12), waitForDelivered(bob, 12)]);

    const finalAlice = await shown(alice);
    const finalBob = await shown(bob);
    expect(finalAlice).toEqual(finalBob);
    expect(finalAlice.map((m) => m.seq)).toEqual(
      Array.from({ length: 12 }, (_, i) => String(i + 1)),
    );
    const texts = finalAlice.map((m) => m.text);
    expect([...texts].sort()).toEqual(
      ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'b1', 'b2', 'b3', 'b4', 'b5', 'b6'].sort(),
    );
    expect(texts.filter((t) => t.startsWith('a'))).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    expect(texts.filter((t) => t.startsWith('b'))).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    for (const m of finalAlice) expect(m.nick).toBe(m.text.startsWith('a') ? 'alice' : 'bob');

    // The badge went open → reconnecting → … → open, and the resume was reported.
    const debug = await alice.evaluate(() => ({
      badgeLog: window.probeChat?.badgeLog ?? [],
      resumes: window.probeChat?.resumes ?? [],
      badge: document.querySelector('#badge')?.getAttribute('data-state'),
      notice: document.querySelector('#notice')?.textContent ?? '',
    }));
    const firstOpen = debug.badgeLog.indexOf('open');
    const reconnecting = debug.badgeLog.indexOf('reconnecting');
    expect(firstOpen).toBeGreaterThanOrEqual(0);
    expect(reconnecting).toBeGreaterThan(firstOpen);
    expect(debug.badgeLog.slice(reconnecting)).toContain('open');
    expect(debug.badge).toBe('open');
    expect(debug.resumes).toHaveLength(1);
    expect(debug.resumes[0]!.replayedToServer).toBe(3);
    // Bob's three messages at least, plus presence and RTT reports queued before the suspend;
    // both ends must count the same replay.
    expect(debug.resumes[0]!.replayedFromServer).toBeGreaterThanOrEqual(3);
    expect(debug.resumes[0]!.replayedToClient).toBe(debug.resumes[0]!.replayedFromServer);
    expect(debug.notice).toContain('Session resumed');
    expect(debug.notice).toContain('3 messages replayed to the server');
    expect(debug.notice).toContain('The server had suspended the session');
    expect(pageErrors).toEqual([]);

    // Let the next RTT report land so the screenshot shows a measured figure.
    await alice.waitForFunction(
      () => /RTT \d/.test(document.querySelector('#rtt')?.textContent ?? ''),
      null,
      WAIT,
    );
    await alice.screenshot({ path: screenshot });
    console.log(`e2e screenshot: ${screenshot}`);
    console.log(`alice's badge: ${debug.badgeLog.join(' → ')}`);
  }, 180_000);
  it('shows who is typing on the other page, and does not replay it after a reconnect', async () => {
    const erin = await openChat('erin', 'dev');
    const frank = await openChat('frank', 'dev');
    await erin.waitForSelector('#members li:has-text("frank")');

    // Typing (not sending) reaches the other page as a volatile event.
    await erin.type('#text', 'hel', { delay: 30 });
    await frank.waitForSelector('#typing:has-text("erin is typing")');
    expect(await erin.textContent('#typing')).toBe('');
    const seen = await frank.evaluate(() => window.probeChat!.typing.length);
    expect(seen).toBeGreaterThanOrEqual(1);
    await frank.waitForFunction(() => document.querySelector('#typing')?.textContent === '');

    // Frank's connection is cut; erin types (and posts) while his session is suspended.
    await frank.selectOption('#cut-seconds', '5');
    await frank.click('#cut');
    await erin.waitForSelector('#members li[data-status="reconnecting"]:has-text("frank")');
    await erin.fill('#text', '');
    await erin.type('#text', 'while you were away', { delay: 10 });
    await erin.press('#text', 'Enter');
    await waitForDelivered(erin, 1);

    // After the resume the post is replayed to frank; the typing notice is not.
    await frank.waitForFunction(() => window.probeChat?.resumes.length === 1, null, WAIT);
    await waitForDelivered(frank, 1);
    expect((await shown(frank)).map((m) => m.text)).toEqual(['while you were away']);
    const after = await frank.evaluate(() => ({
      typing: window.probeChat!.typing.map((t) => t.member.nick),
      shown: document.querySelector('#typing')?.textContent,
    }));
    expect(after.typing).toHaveLength(seen);
    expect(after.shown).toBe('');
    expect(pageErrors).toEqual([]);
    await Promise.all([erin.context().close(), frank.context().close()]);
  }, 120_000);

  it('continues the same session after a page reload: every line once, the last ones included', async () => {
    const carol = await openChat('carol', 'help');
    const dave = await openChat('dave', 'help');
    await carol.waitForSelector('#members li:has-text("dave")');
    await say(carol, 'c1');
    await say(dave, 'd1');
    await Promise.all([waitForDelivered(carol, 2), waitForDelivered(dave, 2)]);
    const sessionId = await carol.evaluate(() => window.probeChat!.client.sessionId);
    expect(sessionId).toEqual(expect.any(String));
    const sessionsBefore = [...server.probe.sessions()].length;

    // One line sent just before the reload, one into a cut connection (so the server cannot
    // have it yet), then the reload at once: both are in the recovery key, not yet confirmed.
    await say(carol, 'c2');
    await carol.click('#cut');
    await say(carol, 'c3');
    const pending = await carol.evaluate(() => window.probeChat!.client.buffered.messages);
    expect(pending).toBeGreaterThanOrEqual(1);
    await carol.reload();

    // No nickname form: the page takes the session up with the key it left.
    await carol.waitForSelector('#badge[data-state="open"]');
    await carol.waitForFunction(() => window.probeChat?.recovered === true, null, WAIT);
    expect(await carol.isVisible('#recovered')).toBe(true);
    expect(await carol.evaluate(() => window.probeChat!.client.sessionId)).toBe(sessionId);
    expect(await carol.evaluate(() => sessionStorage.getItem('probe-chat:recovery'))).toBeNull();
    expect([...server.probe.sessions()].length).toBe(sessionsBefore);
    expect(await carol.textContent('#notice')).toContain('Session recovered after the page reload');

    await Promise.all([waitForDelivered(carol, 4), waitForDelivered(dave, 4)]);
    await say(carol, 'c4');
    await say(dave, 'd2');
    await Promise.all([waitForDelivered(carol, 6), waitForDelivered(dave, 6)]);
    const finalCarol = await shown(carol);
    expect(finalCarol).toEqual(await shown(dave));
    expect(finalCarol.map((m) => m.seq)).toEqual(['1', '2', '3', '4', '5', '6']);
    const texts = finalCarol.map((m) => m.text);
    expect(texts.filter((t) => t.startsWith('c'))).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect([...texts].sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'd1', 'd2']);
    // Carol's lines are hers on the reloaded page too.
    expect(await carol.$$eval('#messages .msg.mine', (items) => items.length)).toBe(4);
    // Still one session for carol on the server, and her member entry is online.
    expect([...server.probe.sessions()].filter((s) => s.data.nick === 'carol')).toHaveLength(1);
    await dave.waitForSelector('#members li[data-status="online"]:has-text("carol")');
    expect(pageErrors).toEqual([]);
    await carol.screenshot({ path: join(artifacts, 'chat-e2e-reload.png') });
    await Promise.all([carol.context().close(), dave.context().close()]);
  }, 120_000);
});
