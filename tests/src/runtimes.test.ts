import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Session, UntypedSchema } from '@probe/server';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

// The client under Deno and Bun (installed as dev dependencies of this package), each with its
// own WebSocket, against a real server through the fault proxy: numbered messages, named events
// and a request, with the connection cut in the middle (tests/runtimes/client.mjs).

const testsDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('../runtimes/client.mjs', import.meta.url));
const RUNTIMES = [
  { name: 'deno', args: ['run', '--allow-net', '--allow-read', '--allow-env', script] },
  { name: 'bun', args: [script] },
] as const;
const COUNT = 50;

let h: Harness | undefined;
afterEach(async () => h?.close());

function run(bin: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd: testsDir, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${bin} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

describe.each(RUNTIMES)('the client under $name', ({ name, args }) => {
  it('delivers messages, events and a request exactly once across a cut connection', async () => {
    const bin = fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
    expect(existsSync(bin), `${bin} is missing: pnpm install in the repository root`).toBe(true);
    h = await startHarness();
    const harness = h;
    const received: number[] = [];
    harness.server.on('session', (plain) => {
      const session = plain as unknown as Session<unknown, unknown, unknown, UntypedSchema>;
      session.on('message', (data) => {
        const { n } = data as { n: number };
        received.push(n);
        session.send({ n });
        if (n === 25) harness.proxy.latest()?.reset();
      });
      session.on('ping', (payload) => session.emit('pong', payload));
      session.handle('double', (n) => (n as number) * 2);
    });
    const stdout = await run(bin, [...args, harness.url]);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    const numbers = Array.from({ length: COUNT }, (_, i) => i + 1);
    expect(result.runtime).toMatch(new RegExp(`^${name} `));
    expect(result.problem).toBeNull();
    expect(result.echoes).toEqual(numbers);
    expect(received).toEqual(numbers);
    expect(result.events).toEqual(['before the cut', 'after the cut']);
    expect(result.reply).toBe(42);
    // One session: opened once, then resumed after the cut.
    expect(result.opens[0]).toBe(false);
    expect(result.opens.slice(1)).toContain(true);
    expect(harness.sessions).toHaveLength(1);
  }, 90_000);
});
