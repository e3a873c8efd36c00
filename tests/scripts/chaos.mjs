#!/usr/bin/env node
// `pnpm chaos`: the long chaos run, 200 clients for 60 s by default. It is the same test as the
// short one in the normal suite (tests/src/chaos/chaos.test.ts), run by vitest from the repo
// root with longer settings. Override with PROBE_CHAOS_CLIENTS, PROBE_CHAOS_MS,
// PROBE_CHAOS_FAULT_EVERY_MS and PROBE_SEED (to replay a run).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const env = {
  ...process.env,
  PROBE_CHAOS_CLIENTS: process.env.PROBE_CHAOS_CLIENTS ?? '200',
  PROBE_CHAOS_MS: process.env.PROBE_CHAOS_MS ?? '60000',
};
console.log(
  `chaos: ${env.PROBE_CHAOS_CLIENTS} clients for ${Number(env.PROBE_CHAOS_MS) / 1000} s` +
    (env.PROBE_SEED ? `, seed ${env.PROBE_SEED}` : ''),
);
const result = spawnSync(
  process.execPath,
  [vitest, 'run', '--project', 'tests', 'src/chaos/', ...process.argv.slice(2)],
  { cwd: root, env, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
