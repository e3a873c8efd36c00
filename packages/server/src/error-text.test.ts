import { CloseCode } from '@probe/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeServerOptions } from './options.js';
import type { ProbeServer } from './server.js';
import { StoreError } from './store.js';
import { listeningServer, MemoryStore, rawSession, tryHello } from './test-server.js';

/** Detail that belongs in the server's log and never in a close reason. */
const SECRET = 'secret-internal-detail';

let server: ProbeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: ProbeServerOptions) {
  const s = await listeningServer({ probeIntervalMs: 60_000, probeTimeoutMs: 60_000, ...options });
  server = s.server;
  return s;
}

describe('what a refused client is told', () => {
  const failures: [string, () => unknown][] = [
    [
      'throws',
      () => {
        throw new Error(`user table at ${SECRET}`);
      },
    ],
    ['rejects', () => Promise.reject(new Error(`user table at ${SECRET}`))],
    [
      'throws a string',
      () => {
        throw `user table at ${SECRET}`;
      },
    ],
  ];
  for (const [name, authenticate] of failures) {
    it(`authenticate ${name}: 4503 'unauthorized', the detail only in the log`, async () => {
      const s = await start({ authenticate });
      const hello = await tryHello(s.url);
      expect(hello.refused).toMatchObject({ code: CloseCode.UNAUTHORIZED, reason: 'unauthorized' });
      expect(hello.refused?.goodbye.reason).toBe('unauthorized');
      expect(s.errors).toHaveLength(1);
      expect(s.errors[0]).toMatchObject({
        code: 'unauthorized',
        closeCode: CloseCode.UNAUTHORIZED,
      });
      expect(s.errors[0]!.message).toContain(SECRET);
    });
  }

  it("a store step that throws: 1011 'internal error', the detail only in the log", async () => {
    const store = new MemoryStore({
      fail: (step) => (step === 'create' ? new TypeError(`cannot read ${SECRET}`) : undefined),
    });
    const s = await start({ store });
    const hello = await tryHello(s.url);
    expect(hello.refused).toMatchObject({
      code: CloseCode.INTERNAL_ERROR,
      reason: 'internal error',
    });
    expect(s.errors.at(-1)).toMatchObject({ code: 'internal-error' });
    expect(s.errors.at(-1)!.message).toContain(SECRET);
  });

  it('a store that is unavailable: 1013, the detail only in the log', async () => {
    let failing = false;
    const store = new MemoryStore({
      fail: (step) =>
        failing && step === 'load'
          ? new StoreError('unavailable', `no route to ${SECRET}`)
          : undefined,
    });
    const s = await start({ store });
    const { raw, welcome } = await rawSession(s.url);
    raw.terminate();
    failing = true;
    const resume = { sessionId: welcome.sessionId, token: welcome.token, lastSeq: 0, sentSeq: 0 };
    const hello = await tryHello(s.url, resume);
    expect(hello.refused?.code).toBe(CloseCode.TRY_AGAIN_LATER);
    expect(hello.refused?.reason).not.toContain(SECRET);
    expect(s.errors.at(-1)).toMatchObject({ code: 'store-unavailable' });
    expect(s.errors.at(-1)!.message).toContain(SECRET);
    failing = false;
    const again = await tryHello(s.url, resume);
    expect(again.welcome?.resumed).toBe(true);
    again.raw.close();
  });
});
