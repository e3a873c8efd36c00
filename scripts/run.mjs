#!/usr/bin/env node
// Entry point for the README's two commands (`npm run demo`, `npm test`) and `npm run bench`.
// It needs only Node 20 and npm: it finds or installs the pinned pnpm, installs the workspace,
// then runs the task. Browser tests need Chromium, and the multi-node tests and benchmarks
// need redis-server; on Debian as root both are installed with apt. The demo needs neither.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pnpmVersion = JSON.parse(readFileSync(`${root}package.json`, 'utf8')).packageManager.split(
  '@',
)[1];

function ok(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function output(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

function run(cmd, args, env = {}) {
  console.log(`\n$ ${[cmd, ...args].join(' ')}`);
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** Returns the argv prefix that runs the pinned pnpm. */
function pnpm() {
  if (output('pnpm', ['--version']) === pnpmVersion) return ['pnpm'];
  console.log(`Installing pnpm ${pnpmVersion} with npm…`);
  if (
    ok('npm', ['install', '--global', `pnpm@${pnpmVersion}`]) &&
    output('pnpm', ['--version']) === pnpmVersion
  ) {
    return ['pnpm'];
  }
  // No permission for a global install: run it through npm's cache instead.
  return ['npx', '--yes', `pnpm@${pnpmVersion}`];
}

let aptUpdated = false;

/** Installs Debian packages with apt-get when running as root; false when that is not possible. */
function aptInstall(purpose, ...packages) {
  if (process.getuid?.() !== 0 || !ok('which', ['apt-get'])) return false;
  console.log(`Installing ${packages.join(', ')} for ${purpose} (apt-get)…`);
  if (!aptUpdated) {
    run('apt-get', ['update', '-qq']);
    aptUpdated = true;
  }
  run('apt-get', ['install', '-y', '-qq', ...packages], { DEBIAN_FRONTEND: 'noninteractive' });
  return true;
}

function ensureChromium() {
  const path = process.env.PROBE_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  if (aptInstall('the browser tests', 'chromium')) return;
  console.error(
    `Chromium not found at ${path}. Install it (Debian: apt-get install chromium) or point PROBE_CHROMIUM at it.`,
  );
  process.exit(1);
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(name) {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some((dir) => dir && isExecutable(join(dir, name)));
}

/** The multi-node tests and benchmarks start their own redis-server processes on free ports. */
function ensureRedis() {
  const configured = process.env.PROBE_REDIS_SERVER;
  if (configured) {
    if (isExecutable(configured)) return;
    console.error(`PROBE_REDIS_SERVER is ${configured}, which is not an executable file.`);
    process.exit(1);
  }
  if (onPath('redis-server')) return;
  if (aptInstall('the multi-node tests', 'redis-server') && onPath('redis-server')) {
    // Debian's package may start a system-wide instance on port 6379; tests start their own.
    spawnSync('service', ['redis-server', 'stop'], { stdio: 'ignore' });
    return;
  }
  console.error(
    'redis-server not found. Install it (Debian: apt-get install redis-server) or point PROBE_REDIS_SERVER at it.',
  );
  process.exit(1);
}

/**
 * One plain closing line for CI logs: the counts of the vitest runs (the main one, and the
 * multi-process cluster suites, which run on their own so that no other suite competes with
 * their node processes for the CPU).
 */
function printSummary(files) {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const file of files.filter((f) => existsSync(f))) {
    const results = JSON.parse(readFileSync(file, 'utf8'));
    totals.passed += results.numPassedTests;
    totals.failed += results.numFailedTests;
    totals.skipped += results.numPendingTests;
  }
  console.log(
    `\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`,
  );
}

const task = process.argv[2];
const [cmd, ...prefix] = pnpm();
run(cmd, [...prefix, 'install']);
if (task === 'test') {
  ensureChromium();
  ensureRedis();
  // The storm and slowloris suites open thousands of sockets: raise the descriptor limit first.
  const raiseLimit =
    'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  if (process.platform === 'win32') run(cmd, [...prefix, 'run', 'test:all']);
  else run('sh', ['-c', raiseLimit, 'sh', cmd, ...prefix, 'run', 'test:all']);
  printSummary([
    `${root}test-artifacts/vitest-results.json`,
    `${root}test-artifacts/vitest-cluster.json`,
  ]);
} else if (task === 'demo') {
  run(cmd, [...prefix, 'turbo', 'run', 'build', '--filter=@probe/chat...']);
  run(cmd, [...prefix, '--filter', '@probe/chat', 'start']);
} else if (task === 'demo:cluster') {
  // Two chat nodes sharing sessions through a redis-server of their own, behind a balancer.
  ensureRedis();
  run(cmd, [...prefix, 'turbo', 'run', 'build', '--filter=@probe/chat...']);
  run(cmd, [...prefix, '--filter', '@probe/chat', 'start:cluster']);
} else if (task === 'bench') {
  ensureRedis();
  run(cmd, [...prefix, 'turbo', 'run', 'build', '--filter=@probe/bench...']);
  run(cmd, [...prefix, '--filter', '@probe/bench', 'bench', ...process.argv.slice(3)]);
} else {
  console.error('usage: node scripts/run.mjs demo|demo:cluster|test|bench');
  process.exit(2);
}
