#!/usr/bin/env node
// Lints what npm users get, after a build: publint (package.json fields, `exports`, files that
// exist; --strict makes its warnings fail) and Are the Types Wrong (every entry point resolves
// to the right types under node10, node16 from CommonJS, node16 from ESM, and bundler
// resolution: the `strict` profile, a superset of "node16 ESM+CJS and bundler").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PUBLISHED = ['protocol', 'server', 'client'];
const env = {
  ...process.env,
  PATH: `${join(root, 'node_modules/.bin')}${delimiter}${process.env.PATH}`,
};

let failed = false;
function run(command, args) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}

for (const name of PUBLISHED) {
  const dir = `packages/${name}`;
  if (!existsSync(join(root, dir, 'dist/index.js'))) {
    console.error(`${dir} is not built: run pnpm turbo run build --filter=./packages/*`);
    process.exit(1);
  }
  run('publint', ['--strict', dir]);
  // --pack runs `npm pack`; the tarball keeps `workspace:*` ranges, which attw does not read.
  run('attw', ['--pack', dir, '--profile', 'strict', '--format', 'table-flipped']);
}
process.exit(failed ? 1 : 0);
