// Install check: what an npm user gets. The four packages are packed with `pnpm pack` (which
// rewrites `workspace:` ranges), installed with npm into a fresh project outside the repository,
// and used there from CommonJS, from ESM (also as two server nodes sharing sessions through a
// real Redis), from TypeScript typed by one schema of named events and requests (compiled by tsc,
// then run), and from a page bundled by Vite and loaded in Chromium.
// Needs the build (`pnpm turbo run build --filter=./packages/*`), the npm registry (for the
// packages' dependencies and Vite), redis-server (on PATH, or PROBE_REDIS_SERVER) and Chromium
// (/usr/bin/chromium, or PROBE_CHROMIUM).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CHROMIUM_ARGS, CHROMIUM_PATH, startRedis } from '@probe/testkit';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixture/', import.meta.url));
const PACKAGES = ['protocol', 'server', 'client', 'redis'];
/** Installed from npm beside the tarballs: the Vite of apps/chat, the TypeScript of the repo. */
const TOOLS = ['vite@8.3.8', 'typescript@6.0.3', '@types/node@^20.19.0'];
const executablePath = CHROMIUM_PATH;

let work: string;
let project: string;
const children: ChildProcess[] = [];

/**
 * The environment for npm and node in the scratch project: pnpm's script variables would make
 * npm believe it runs under pnpm, and NODE_OPTIONS from the test runner must not leak in.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(npm_(command|execpath|node_execpath|lifecycle_|package_|config_user_agent)|pnpm_|INIT_CWD$|NODE_OPTIONS$|VITEST)/i.test(
        key,
      )
    )
      continue;
    env[key] = value;
  }
  return env;
}

/** Runs a command in the scratch project; prints and returns its output. */
async function sh(
  command: string,
  args: string[],
  label = `${command} ${args.join(' ')}`,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: project,
      env: { ...cleanEnv(), ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 240_000,
    });
    const output = `${stdout}${stderr}`.trim();
    console.log(`$ ${label}\n${output}`);
    return output;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${label} failed:\n${stdout}${stderr}`, { cause: error });
  }
}

beforeAll(async () => {
  for (const name of PACKAGES) {
    if (!existsSync(join(root, 'packages', name, 'dist/index.js'))) {
      throw new Error(
        `packages/${name} is not built: run pnpm turbo run build --filter=./packages/*`,
      );
    }
  }
  work = mkdtempSync(join(tmpdir(), 'probe-install-check-'));
  project = join(work, 'project');
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  cpSync(fixture, project, { recursive: true });
  for (const name of PACKAGES) {
    await run('pnpm', ['pack', '--pack-destination', tarballs], {
      cwd: join(root, 'packages', name),
    });
  }
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  console.log(`install check in ${project}\npacked: ${readdirSync(tarballs).join(', ')}`);
  await sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', ...files, ...TOOLS],
    `npm install --no-audit --no-fund --no-package-lock <${files.length} tarballs> ${TOOLS.join(' ')}`,
  );
}, 300_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('installed from the packed tarballs', () => {
  test('the installed packages are the packed ones, with npm-resolvable dependencies', () => {
    for (const name of PACKAGES) {
      const installed = JSON.parse(
        readFileSync(join(project, 'node_modules/@probe', name, 'package.json'), 'utf8'),
      );
      const local = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
      expect(installed.version).toBe(local.version);
      expect(JSON.stringify(installed.dependencies ?? {})).not.toContain('workspace:');
      expect(JSON.stringify(installed.peerDependencies ?? {})).not.toContain('workspace:');
    }
  });

  test('CommonJS: require() gets the CJS build; a message goes both ways; the process exits', async () => {
    expect(await sh('node', ['round-trip.cjs'])).toContain('client got {"echo":{"from":"cjs"}}');
  });

  test('ESM: import gets the ESM build; a message goes both ways; the process exits', async () => {
    expect(await sh('node', ['round-trip.mjs'])).toContain('client got {"echo":{"from":"esm"}}');
  });

  test('two nodes share sessions through Redis: after node A closes, the client resumes on B', async () => {
    const redis = await startRedis();
    try {
      const output = await sh('node', ['two-nodes.mjs'], 'node two-nodes.mjs', {
        PROBE_REDIS_URL: redis.url,
      });
      expect(output).toContain('resumed on B after A closed');
    } finally {
      await redis.stop();
    }
  });

  test('TypeScript: the declarations type-check in a browser project and in Node (ESM and CJS)', async () => {
    // skipLibCheck off: the shipped .d.ts/.d.cts files themselves must compile, the client's
    // without @types/node.
    const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
    await sh('node', [tsc, '-p', 'tsconfig.browser.json'], 'tsc -p tsconfig.browser.json');
    await sh('node', [tsc, '-p', 'tsconfig.node.json'], 'tsc -p tsconfig.node.json');
  });

  test('a schema-typed server and client, compiled by tsc, exchange named requests and events', async () => {
    // schema-chat.mts: emitWithAck answered by session.handle (and the other way), a
    // RequestError reply, no-handler, a named event each way, on 127.0.0.1.
    const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
    await sh('node', [tsc, '-p', 'tsconfig.schema.json'], 'tsc -p tsconfig.schema.json');
    expect(await sh('node', ['out/schema-chat.mjs'])).toContain(
      'schema: joined {"room":"lobby","members":1}, refused forbidden, unhandled no-handler, lines 2, version 1.2.3',
    );
  });

  test('the schema types ship: every @ts-expect-error case of schema-chat.mts fails to compile', async () => {
    // With the declarations missing or typed `any`, the directives would be unused and the
    // compile above would fail; here, without them, each case must be an error of its own line.
    const source = readFileSync(join(project, 'schema-chat.mts'), 'utf8');
    const expected = source
      .split('\n')
      .flatMap((line, index) => (line.trim().startsWith('// @ts-expect-error') ? [index + 2] : []));
    expect(expected.length).toBeGreaterThanOrEqual(8);
    writeFileSync(
      join(project, 'schema-errors.mts'),
      source.replaceAll('// @ts-expect-error', '// an error is expected on the next line:'),
    );
    const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
    const output = await sh('node', [tsc, '-p', 'tsconfig.schema-errors.json']).then(
      () => 'compiled without errors',
      (error: Error) => error.message,
    );
    const errorLines = [...output.matchAll(/^schema-errors\.mts\((\d+),\d+\): error TS\d+/gm)].map(
      (match) => Number(match[1]),
    );
    expect([...new Set(errorLines)], output).toEqual(expected);
  });

  test('a Vite page round-trips in Chromium, with no Node built-in or ws in its bundle', async () => {
    const output = await sh('node', ['node_modules/vite/bin/vite.js', 'build'], 'vite build');
    // Vite replaces Node built-ins with a stub and says so; `ws` would throw in a browser.
    expect(output).not.toMatch(/externalized for browser compatibility/);
    const dist = join(project, 'dist');
    const bundle = readdirSync(join(dist, 'assets'))
      .filter((file) => file.endsWith('.js'))
      .map((file) => readFileSync(join(dist, 'assets', file), 'utf8'))
      .join('\n');
    expect(bundle).not.toContain('__vite-browser-external');
    expect(bundle).not.toContain('ws does not work in the browser');

    const web = await serveStatic(dist);
    const { port: webPort } = web.address() as AddressInfo;
    // The page comes from another origin than the WebSocket server's (another port): the server
    // must be told to accept it, as any cross-origin deployment must.
    const echo = spawn(process.execPath, ['echo-server.mjs'], {
      cwd: project,
      env: { ...cleanEnv(), PROBE_ALLOW_ORIGIN: `http://127.0.0.1:${webPort}` },
    });
    children.push(echo);
    echo.stderr.on('data', (chunk) => process.stderr.write(chunk));
    const { port } = JSON.parse(await firstLine(echo)) as { port: number };

    const userDataDir = mkdtempSync(join(work, 'chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`http://127.0.0.1:${webPort}/?ws=ws://127.0.0.1:${port}/`);
      await page.waitForFunction(() => document.title !== 'probe: pending', null, {
        timeout: 30_000,
      });
      const title = await page.title();
      const result = await page.textContent('#result');
      console.log(`chromium: ${title} ${result}`);
      expect(errors).toEqual([]);
      expect(title).toBe('probe: ok');
      expect(JSON.parse(result ?? '')).toEqual({ echo: { from: 'browser', userAgent: true } });
    } finally {
      await context.close();
      await new Promise((resolve) => web.close(resolve));
      echo.kill('SIGTERM');
    }
  });
});

/** The first line a child prints, or an error if it exits first. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!child.stdout) throw new Error('no stdout');
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing`)));
  });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** A minimal static file server for the built page, on 127.0.0.1 and a free port. */
async function serveStatic(dir: string): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    response.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
