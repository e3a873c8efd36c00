import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ExchangeFile } from './conformance/format.js';
import {
  BASE_OPTIONS,
  DEVIATIONS,
  startReferenceServer,
  wsPackageDirectory,
} from './conformance/reference-server.js';

// bin/probe-conformance.mjs as its users run it: a separate Node process, given a server URL.
// It encodes with this package's build (dist), and finds `ws` in the directory it runs from.
const script = fileURLToPath(new URL('../bin/probe-conformance.mjs', import.meta.url));
const built = existsSync(new URL('../dist/index.js', import.meta.url));
const file = JSON.parse(
  readFileSync(new URL('../vectors/exchanges.json', import.meta.url), 'utf8'),
) as ExchangeFile;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: wsPackageDirectory(), timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe.skipIf(!built)('bin/probe-conformance.mjs', () => {
  it('runs every exchange it can against a server and prints one line each and a summary', async () => {
    const assumed = ['memory-sessions', 'same-origin', 'any-path', 'deny-auth'];
    const server = await startReferenceServer(assumed);
    try {
      const { code, stdout } = await run([
        server.url,
        ...assumed.flatMap((requirement) => ['--assume', requirement]),
        '--param',
        `handshakeTimeoutMs=${BASE_OPTIONS.handshakeTimeoutMs}`,
      ]);
      const lines = stdout.trim().split('\n');
      const runnable = file.exchanges.filter((exchange) =>
        (exchange.requires ?? []).every((requirement) => assumed.includes(requirement)),
      );
      const failed = runnable.filter((exchange) => DEVIATIONS.has(exchange.name));
      const skipped = file.exchanges.length - runnable.length;
      expect(lines).toHaveLength(file.exchanges.length + 1);
      expect(
        lines.filter((line) => line.startsWith('FAIL')).map((line) => line.split(':')[0]),
      ).toEqual(failed.map((exchange) => `FAIL  ${exchange.name}`));
      expect(lines.filter((line) => line.startsWith('skip'))).toHaveLength(skipped);
      expect(lines.at(-1)).toBe(
        `${runnable.length - failed.length} passed, ${failed.length} failed, ${skipped} skipped`,
      );
      expect(code).toBe(failed.length > 0 ? 1 : 0);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('lists the exchanges with their requirements', async () => {
    const { code, stdout } = await run(['--list']);
    expect(code).toBe(0);
    for (const exchange of file.exchanges) expect(stdout).toContain(exchange.name);
    for (const requirement of Object.keys(file.requirements ?? {})) {
      expect(stdout).toContain(`  ${requirement}: `);
    }
  });

  it('refuses a missing URL or an unknown requirement with exit status 2', async () => {
    expect((await run([])).code).toBe(2);
    const unknown = await run(['ws://127.0.0.1:9/', '--assume', 'telepathy']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown requirement telepathy');
  });
});
