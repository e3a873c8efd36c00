#!/usr/bin/env node
// Lints what npm users get, after a build: each published package is packed with `pnpm pack`
// (as `pnpm publish` packs it: `workspace:` ranges replaced by real ones), then the tarball goes
// through publint (package.json fields, `exports`, files that exist; --strict makes its warnings
// fail) and Are the Types Wrong (every entry point resolves to the right types under node10,
// node16 from CommonJS, node16 from ESM, and bundler resolution: the `strict` profile, a superset
// of "node16 ESM+CJS and bundler").
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PUBLISHED = ['protocol', 'server', 'client', 'redis'];
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
  for (const file of ['dist/index.js', 'dist/index.d.ts']) {
    if (!existsSync(join(root, dir, file))) {
      console.error(`${dir}/${file} is missing: run pnpm turbo run build --filter=./packages/*`);
      process.exit(1);
    }
  }
}

const out = mkdtempSync(join(tmpdir(), 'probe-check-packages-'));
try {
  for (const name of PUBLISHED) {
    const packed = JSON.parse(
      execFileSync('pnpm', ['pack', '--json', '--pack-destination', out], {
        cwd: join(root, 'packages', name),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    run('publint', ['run', '--strict', packed.filename]);
    run('attw', [packed.filename, '--profile', 'strict', '--format', 'table-flipped']);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
