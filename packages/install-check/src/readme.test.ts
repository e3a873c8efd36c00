// Every ```ts block of the published packages' READMEs must type-check against the built
// declarations, as a user would paste it (each block is a module of its own), and every README
// must have at least one.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
// Inside this package, so that @probe/*, express and fastify resolve from its node_modules.
const scratch = fileURLToPath(new URL('../.tmp/readme/', import.meta.url));
const READMES = [
  'packages/protocol/README.md',
  'packages/server/README.md',
  'packages/client/README.md',
  'packages/redis/README.md',
];

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  try {
    rmdirSync(join(scratch, '..')); // .tmp, unless something else uses it
  } catch {}
});

test('the TypeScript blocks of the package READMEs type-check', async () => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const counts: Record<string, number> = {};
  for (const readme of READMES) {
    counts[readme] = 0;
    const lines = readFileSync(join(root, readme), 'utf8').split('\n');
    let start = -1;
    lines.forEach((line, index) => {
      if (start < 0 && line.trim() === '```ts') start = index;
      else if (start >= 0 && line.trim() === '```') {
        const body = lines.slice(start + 1, index).join('\n');
        const name = `${readme.split('/')[1]}-line-${start + 2}.ts`;
        writeFileSync(join(scratch, name), `// ${readme}:${start + 2}\n${body}\nexport {};\n`);
        counts[readme] = (counts[readme] ?? 0) + 1;
        start = -1;
      }
    });
  }
  writeFileSync(
    join(scratch, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../../../tsconfig.base.json',
      compilerOptions: { noEmit: true, types: ['node'] },
      include: ['*.ts'],
    }),
  );
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const result = await run(process.execPath, [tsc, '-p', scratch]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  console.log(`type-checked README blocks: ${JSON.stringify(counts)}`);
  // File names carry the README line where each block starts.
  expect(result).toBe('');
  for (const readme of READMES) expect(counts[readme], readme).toBeGreaterThan(0);
}, 120_000);
