import type { Logger } from '@probe/server';
import { type RedisServer, startRedis, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisSessionStore } from './redis-session-store.js';

let redis: RedisServer | undefined;
let store: RedisSessionStore | undefined;
afterEach(async () => {
  await store?.close();
  await redis?.stop();
  store = undefined;
  redis = undefined;
});

describe('logger', () => {
  it('hears of a lost Redis and its heartbeat once per outage, and of the recovery', async () => {
    redis = await startRedis();
    const records: { level: string; message: string | undefined; fields: object }[] = [];
    const at = (level: string) => (fields: object, message?: string) => {
      records.push({ level, message, fields });
    };
    const logger: Logger = {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
    };
    store = new RedisSessionStore({
      url: redis.url,
      heartbeatMs: 50,
      operationTimeoutMs: 200,
      logger,
    });
    await store.open({ id: 'node-a', release: async () => {} }, { sessionTtlMs: 10_000 });
    expect(records).toEqual([]);

    await redis.kill('SIGKILL');
    await waitFor(() => records.some((r) => r.message === 'heartbeat failed'), { timeoutMs: 5000 });
    // ioredis retries every few hundred ms: still one record of each.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const messages = () => records.map((r) => `${r.level} ${r.message}`);
    expect(messages().filter((m) => m === 'warn Redis connection lost')).toHaveLength(1);
    expect(messages().filter((m) => m === 'warn heartbeat failed')).toHaveLength(1);

    await redis.restart();
    await waitFor(() => messages().includes('info heartbeat stored again'), { timeoutMs: 10_000 });
    expect(messages()).toContain('info Redis connection back');
    expect(records.find((r) => r.message === 'Redis connection lost')?.fields).toHaveProperty(
      'err',
    );
  });
});
