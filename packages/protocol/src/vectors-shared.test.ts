import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFromServer, encodeHello } from './codec.js';
import type { ExchangeFile } from './conformance/format.js';
import {
  BASE_OPTIONS,
  DEVIATIONS,
  loadWs,
  SHARED_STORE_DEVIATIONS,
  startReferenceServer,
} from './conformance/reference-server.js';
import { runExchange } from './conformance/runner.js';
import { wsConnect } from './conformance/socket.js';
import { FrameType, type WelcomeFrame } from './frames.js';

// The exchanges again, against reference servers that keep their sessions in Redis (a real
// redis-server on 127.0.0.1): the rules are the same with a shared store. Skipped where no
// redis-server is installed.
interface Redis {
  readonly url: string;
  stop(): Promise<void>;
}
type Testkit = { startRedis(): Promise<Redis>; redisServerPath(): string };
const TESTKIT = '@probe/testkit';

const testkit = (await import(/* @vite-ignore */ TESTKIT)) as Testkit;
const installed = (() => {
  try {
    return testkit.redisServerPath() !== '';
  } catch {
    return false;
  }
})();

const file = JSON.parse(
  readFileSync(new URL('../vectors/exchanges.json', import.meta.url), 'utf8'),
) as ExchangeFile;
const connect = wsConnect(loadWs());

/** Exchanges that hold only for sessions in memory. */
const MEMORY_ONLY = 'memory-sessions';

describe.skipIf(!installed)('exchanges.json against reference servers sharing Redis', () => {
  let redis: Redis;
  let servers = 0;
  beforeAll(async () => {
    redis = await testkit.startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const shared = () => ({ redisUrl: redis.url, keyPrefix: `vectors${++servers}` });

  for (const exchange of file.exchanges) {
    if (exchange.requires?.includes(MEMORY_ONLY)) continue;
    const deviation = DEVIATIONS.get(exchange.name) ?? SHARED_STORE_DEVIATIONS.get(exchange.name);
    const test = deviation === undefined ? it : it.fails;
    test(deviation ? `${exchange.name} (deviates: ${deviation})` : exchange.name, async () => {
      const server = await startReferenceServer(exchange.requires ?? [], shared());
      try {
        const result = await runExchange(file, exchange, {
          url: server.url,
          connect,
          parameters: { handshakeTimeoutMs: BASE_OPTIONS.handshakeTimeoutMs },
        });
        expect(result.detail).toBeUndefined();
        expect(result.status).toBe('passed');
      } finally {
        await server.close();
      }
    }, 15_000);
  }

  it('mints 43-character ids, and answers an id of the in-memory shape with 4010', async () => {
    const server = await startReferenceServer([], shared());
    try {
      const connected = await connect({ url: server.url, headers: {}, timeoutMs: 2000 });
      if (!('socket' in connected)) throw new Error(`upgrade refused: ${connected.status}`);
      connected.socket.send(encodeHello(1, null, null));
      const event = await connected.socket.next(2000);
      connected.socket.terminate();
      const welcome = event?.kind === 'message' ? decodeFromServer(event.data) : null;
      expect(welcome).toMatchObject({ type: FrameType.WELCOME, resumed: false });
      expect((welcome as WelcomeFrame).sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);

      const sessionId = `${'A'.repeat(12)}.${'A'.repeat(43)}`;
      const resume = { sessionId, token: 't0k', lastSeq: 0, sentSeq: 0 };
      const exchange = {
        name: 'an id of the in-memory shape',
        steps: [
          { connect: {} },
          { send: { type: 'hello' as const, version: 1, auth: null, resume } },
          { expect: { type: 'goodbye', code: 4010 } },
          { expectClose: { code: 4010 } },
        ],
      };
      const result = await runExchange(file, exchange, { url: server.url, connect });
      expect(result.detail).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
