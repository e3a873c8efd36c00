// Several nodes, 3: what one idle session costs in Redis. A node with RedisSessionStore, N idle
// clients; Redis `INFO memory` used_memory before and after, and MEMORY USAGE of the keys of
// one session.
import { startRedis } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { Child } from '../lib/child.js';
import { add, type Log, note, type Row, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { sleep } from '../lib/time.js';
import type { SystemName } from '../systems/index.js';

interface MemoryResult {
  perSession: number;
  datasetPerSession: number;
  keysPerSession: number;
  hashBytes: number;
  /** MEMORY USAGE of the session's frame list, or 0 when it does not exist (nothing unacknowledged). */
  listBytes: number;
  hashFields: number;
}

async function memoryOnce(config: BenchConfig): Promise<MemoryResult> {
  const { sessions: n, settleMs } = config.redisMemory;
  const system: SystemName = 'probe-redis';
  const redis = await startRedis();
  const clients = new Child('clients', [], 'clients-redis-memory');
  try {
    const server = await startServerChild(system, 'redis-memory', undefined, {
      shared: { redisUrl: redis.url, ...config.handover },
    });
    try {
      // Warm-up: a few sessions come and go, so Redis has loaded the scripts and grown its
      // tables past their first sizes before the 'before' figure.
      await clients.call('connect', {
        system,
        url: server.url,
        count: 20,
        concurrency: 20,
        timeoutMs: 20_000,
      });
      await clients.call('closeAll');
      await sleep(settleMs);
      const memory = async () => {
        const info = await redis.info('memory');
        return { used: Number(info.used_memory), dataset: Number(info.used_memory_dataset) };
      };
      const keysBefore = await redis.dbsize();
      const before = await memory();
      await clients.call(
        'connect',
        { system, url: server.url, count: n, concurrency: 100, timeoutMs: 120_000 },
        130_000,
      );
      await sleep(settleMs);
      const after = await memory();
      const keysAfter = await redis.dbsize();
      // One session's keys: the hash `probe:{id}` and its frame list `probe:{id}:q`.
      const keys = (await redis.keys('probe:{*}')).filter((k) => k.endsWith('}'));
      const key = keys[0];
      if (!key) throw new Error('no session key in Redis');
      const usage = async (k: string) =>
        Number((await redis.command('MEMORY', 'USAGE', k, 'SAMPLES', '0')) ?? 0);
      const listExists = Number(await redis.command('EXISTS', `${key}:q`)) === 1;
      const result: MemoryResult = {
        perSession: (after.used - before.used) / n,
        datasetPerSession: (after.dataset - before.dataset) / n,
        keysPerSession: (keysAfter - keysBefore) / n,
        hashBytes: await usage(key),
        listBytes: listExists ? await usage(`${key}:q`) : 0,
        hashFields: Number(await redis.command('HLEN', key)),
      };
      await clients.call('closeAll');
      return result;
    } finally {
      await server.stop();
    }
  } finally {
    await clients.stop();
    await redis.stop();
  }
}

export async function runRedisMemory(
  config: BenchConfig,
  _systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const n = config.redisMemory.sessions;
  const title = `Redis memory, ${n} idle sessions on one node with RedisSessionStore`;
  const make = (metric: string) => {
    const r = row(title, metric, false);
    r.group = 'shared';
    r.exact = true;
    return r;
  };
  const used = make('used_memory growth per session, bytes');
  const dataset = make('used_memory_dataset growth per session, bytes');
  const hash = make('MEMORY USAGE of one session hash, bytes');
  const system: SystemName = 'probe-redis';
  for (let rep = 0; rep < config.repeat; rep++) {
    const r = await memoryOnce(config);
    add(used, system, r.perSession);
    add(dataset, system, r.datasetPerSession);
    add(hash, system, r.hashBytes);
    if (rep === 0) {
      note(
        hash,
        system,
        `${r.hashFields} fields; ${r.keysPerSession.toFixed(2)} keys per session; frame list ${r.listBytes > 0 ? `${r.listBytes} B` : 'absent (nothing unacknowledged)'}`,
      );
    }
    log(
      `  redis-memory #${rep + 1}: ${r.perSession.toFixed(0)} B/session used_memory, ${r.datasetPerSession.toFixed(0)} B dataset, hash ${r.hashBytes} B (${r.hashFields} fields), list ${r.listBytes} B, ${r.keysPerSession.toFixed(2)} keys/session`,
    );
  }
  return [used, dataset, hash];
}
