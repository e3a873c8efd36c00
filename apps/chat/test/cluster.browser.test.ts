import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, CHROMIUM_PATH, sleep, waitFor } from '@probe/testkit';
import { build as bundle } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChatCluster, startChatCluster } from '../src/server/cluster.js';
import { buildWebFromSource } from './web-build.js';

// The cluster demo end to end: Redis, two chat node processes and the balancer, started by the
// same launcher as `npm run demo:cluster`, and three Chromium pages typing while the node
// serving one of them is killed with SIGKILL (the launcher starts it again a second later).

const appDir = fileURLToPath(new URL('..', import.meta.url));
const artifacts = join(appDir, 'test-artifacts', 'cluster');
const webOut = join(artifacts, 'web');
const serverOut = join(artifacts, 'server', 'index.mjs');
const screenshot = join(appDir, 'test-artifacts', 'chat-cluster.png');
const executablePath = CHROMIUM_PATH;
/** Generous: three Chromium pages, two nodes and Redis share two cores. */
const WAIT = { timeout: 30_000 };
const source = (name: string) =>
  fileURLToPath(new URL(`../../../packages/${name}/src/index.ts`, import.meta.url));

let cluster: ChatCluster | undefined;
let browser: Browser | undefined;
const pageErrors: string[] = [];
const clusterLog: string[] = [];

beforeAll(async () => {
  if (!existsSync(executablePath)) {
    throw new Error(
      `Chromium not found at ${executablePath}: apt-get install -y chromium, or set PROBE_CHROMIUM`,
    );
  }
  await mkdir(artifacts, { recursive: true });
  // The page and the node processes, built from source every run (like the e2e test), so
  // both speak the protocol of the packages as they are now, without a package build.
  await buildWebFromSource(webOut);
  await bundle({
    entryPoints: [join(appDir, 'src/server/index.ts')],
    outfile: serverOut,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Bundled CommonJS (ioredis, ws) calls require() for Node's own modules.
    banner: {
      js: "import { createRequire as __chatRequire } from 'node:module'; const require = __chatRequire(import.meta.url);",
    },
    plugins: [
      {
        name: 'probe-from-source',
        setup(build) {
          build.onResolve({ filter: /^@probe\/(protocol|server|redis)$/ }, (args) => ({
            path: source(args.path.slice('@probe/'.length)),
          }));
        },
      },
    ],
  });
  cluster = await startChatCluster({
    port: 0,
    nodeArgs: [serverOut],
    env: { CHAT_WEB_ROOT: webOut },
    log: (line) => clusterLog.push(line),
  });
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop({ kill: true });
  if (clusterLog.length > 0) console.log(clusterLog.join('\n'));
}, 30_000);

interface ChatPage {
  readonly nick: string;
  readonly page: Page;
  /** Lines this page typed, in order. */
  readonly typed: string[];
}

async function openChat(nick: string): Promise<ChatPage> {
  const context = await browser!.newContext({ viewport: { width: 1100, height: 720 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  page.on('pageerror', (error) => pageErrors.push(`${nick}: ${error.message}`));
  await page.goto(`${cluster!.url}?nick=${nick}`);
  await page.waitForSelector('#badge[data-state="open"]');
  await page.waitForSelector('#node[data-node]');
  await page.waitForSelector(`#members li:has-text("${nick}")`);
  return { nick, page, typed: [] };
}

/** Ends the page's session (so nobody sees it linger as reconnecting) and closes it. */
async function closeChat({ page }: ChatPage): Promise<void> {
  await page.evaluate(() => window.probeChat?.client.close());
  await page.context().close();
}

function nodeOf({ page }: ChatPage): Promise<string | null> {
  return page.getAttribute('#node', 'data-node');
}

interface Shown {
  seq: string | null;
  nick: string;
  text: string;
  pending: boolean;
}

function shown({ page }: ChatPage): Promise<Shown[]> {
  return page.$$eval('#messages .msg', (items) =>
    items.map((item) => ({
      seq: item.getAttribute('data-seq'),
      nick: item.querySelector('.nick')?.textContent ?? '',
      text: item.querySelector('.text')?.textContent ?? '',
      pending: item.classList.contains('pending'),
    })),
  );
}

interface NodeInfo {
  node: { name: string; id: string };
  redelivered: { seen: number; duplicates: number };
}

/**
 * Kills process `pid` with SIGKILL the moment Redis runs a script call whose arguments
 * contain `marker`: a process of its own watching MONITOR, so it reacts within a millisecond
 * however busy this test process is. Resolves when it has killed, with the time it took.
 */
function killOnScript(redisUrl: string, pid: number, marker: string): Promise<void> {
  const { hostname, port } = new URL(redisUrl);
  const script = `
    const [host, port, pid, marker] = process.argv.slice(1);
    const socket = require('node:net').connect({ host, port: Number(port) });
    let rest = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      const lines = (rest + chunk).split('\\r\\n');
      rest = lines.pop();
      for (const line of lines) {
        if (!/^\\+\\S+ \\[\\d+ [\\d.:]+\\] "evalsha" /i.test(line) || !line.includes(marker)) continue;
        process.kill(Number(pid), 'SIGKILL');
        process.exit(0);
      }
    });
    socket.on('connect', () => socket.write('MONITOR\\r\\n'));
    socket.on('error', () => process.exit(2));
    setTimeout(() => process.exit(3), 20000);
  `;
  const killer = spawn(process.execPath, ['-e', script, hostname, port, String(pid), marker], {
    stdio: 'ignore',
  });
  return new Promise((resolve, reject) => {
    killer.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`no kill: the watcher exited with ${code} (3: no such line within 20 s)`),
          ),
    );
  });
}

async function nodeInfo(port: number): Promise<NodeInfo> {
  const response = await fetch(`http://127.0.0.1:${port}/api/info`);
  return (await response.json()) as NodeInfo;
}

describe('chat cluster in the browser', () => {
  it('keeps every line exactly once and in one order on three pages while the node serving one of them is killed', async () => {
    const c = cluster!;
    const pages = [await openChat('ada'), await openChat('bob'), await openChat('cy')];
    // The balancer takes turns per connection, so the pages usually land on both nodes; open
    // the last one again until they do.
    for (let tries = 0; new Set(await Promise.all(pages.map(nodeOf))).size < 2; tries++) {
      expect(tries, 'pages spread over both nodes').toBeLessThan(12);
      await closeChat(pages[2]!);
      pages[2] = await openChat('cy');
    }
    const nodesBefore = await Promise.all(pages.map(nodeOf));
    expect(new Set(nodesBefore)).toEqual(new Set(['A', 'B']));
    for (const p of pages) await p.page.waitForSelector('#members li:nth-child(3)');

    // Everyone types, all the time.
    let typing = true;
    const loops = pages.map(async (p, n) => {
      for (let i = 1; typing; i++) {
        const text = `${p.nick}-${i}`;
        await p.page.fill('#text', text);
        await p.page.press('#text', 'Enter');
        p.typed.push(text);
        await sleep(200 + n * 30);
      }
    });
    try {
      // Kill the node serving ada the moment its node stores one of her lines: the line is
      // handed to the chat, but the node dies before it records that, so the node taking the
      // session over gets it again, marked `redelivered`.
      await sleep(1500);
      const victim = pages[0]!;
      const victimNode = c.nodes.find((node) => node.name === nodesBefore[0])!;
      const victimPid = victimNode.pid!;
      // The chat's append script, with the JSON of one of her lines (quoted by MONITOR).
      await killOnScript(c.redisUrl, victimPid, `\\"nick\\":\\"${victim.nick}\\"`);
      const killedAt = performance.now();

      // The session moves to the other node (or to the restarted one), and the page says so.
      await victim.page.waitForFunction(
        () => (window.probeChat?.moves.length ?? 0) > 0,
        null,
        WAIT,
      );
      const movedAfterMs = performance.now() - killedAt;
      await waitFor(() => victimNode.restarts === 1, { timeoutMs: 10_000, message: 'restart' });
      await victimNode.ready();
      await sleep(2500);
      typing = false;
      await Promise.all(loops);

      // Every page ends with every line, once each, in the same order, nothing pending.
      const total = pages.reduce((sum, p) => sum + p.typed.length, 0);
      for (const p of pages) {
        await p.page.waitForFunction(
          (n) =>
            document.querySelectorAll('#messages .msg[data-seq]').length === n &&
            document.querySelectorAll('#messages .msg.pending').length === 0,
          total,
          WAIT,
        );
      }
      const lists = await Promise.all(pages.map(shown));
      const first = lists[0]!;
      for (const list of lists) expect(list).toEqual(first);
      const seqs = first.map((m) => Number(m.seq));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(total);
      const texts = first.map((m) => m.text);
      expect(new Set(texts).size).toBe(total);
      for (const p of pages) {
        expect(texts.filter((t) => t.startsWith(`${p.nick}-`))).toEqual(p.typed);
        for (const m of first.filter((s) => s.text.startsWith(`${p.nick}-`))) {
          expect(m.nick).toBe(p.nick);
        }
      }

      // The moved page says so; the badge shows the node serving it now.
      const notice = await victim.page.textContent('#notice');
      expect(notice).toMatch(
        /Your session moved from node [AB] to (the restarted )?node [AB]; nothing was lost\./,
      );
      const debug = await victim.page.evaluate(() => ({
        moves: window.probeChat?.moves ?? [],
        nodes: window.probeChat?.nodes ?? [],
        badgeLog: window.probeChat?.badgeLog ?? [],
      }));
      expect(debug.moves[0]!.from).toBe(nodesBefore[0]);
      expect(await nodeOf(victim)).toBe(debug.nodes.at(-1)!.name);
      expect(debug.badgeLog).toContain('reconnecting');

      // The node that took the session over got lines marked `redelivered`, and found the one
      // the killed node had stored already by its author and client id: stored once.
      const infos = await Promise.all(c.nodes.map((node) => nodeInfo(node.port)));
      const seen = infos.reduce((sum, info) => sum + info.redelivered.seen, 0);
      const duplicates = infos.reduce((sum, info) => sum + info.redelivered.duplicates, 0);
      expect(seen).toBeGreaterThan(0);
      expect(duplicates).toBeGreaterThan(0);
      expect(pageErrors).toEqual([]);

      await victim.page.screenshot({ path: screenshot });
      console.log(
        `${total} lines; pages on nodes ${nodesBefore.join(', ')}; node ${victimNode.name} killed, ` +
          `session moved ${(movedAfterMs / 1000).toFixed(1)} s later (${debug.moves.map((m) => `${m.from}→${m.to}`).join(', ')}); ` +
          `redelivered ${seen}, of which already stored ${duplicates}; screenshot ${screenshot}`,
      );
    } catch (error) {
      // What each page saw, for the log of a failed run.
      for (const p of pages) {
        const seen = await p.page
          .evaluate(() => ({
            badges: window.probeChat?.badgeLog.join(' → '),
            nodes: window.probeChat?.nodes.map((n) => n.name).join(' → '),
            log: [...document.querySelectorAll('#log li')].map((li) => li.textContent).reverse(),
          }))
          .catch(() => null);
        console.log(`${p.nick}: ${JSON.stringify(seen, null, 1)}`);
      }
      throw error;
    } finally {
      // Also when something above failed: no typing into a page that is being closed.
      typing = false;
      await Promise.allSettled(loops);
    }
  }, 80_000);
});
