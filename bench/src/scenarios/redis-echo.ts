// Several nodes, 1: the echo of scenario 1 with Probe's sessions in Redis, beside Probe with
// sessions in memory and raw ws, in the same run. Redis runs with appendfsync always (every
// write on disk before it is acknowledged), and optionally everysec.
import { type RedisServer, startRedis } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import type { SystemName } from '../systems/index.js';
import { echoOnce } from './echo.js';

type Fsync = BenchConfig['redisEcho']['appendfsync'][number];
type Variant = { system: SystemName; fsync?: Fsync };

/** Commands Redis has run, per command, and the CPU time it has used (ms). */
async function redisLoad(
  redis: RedisServer,
): Promise<{ calls: Map<string, number>; cpuMs: number }> {
  const [stats, cpu] = await Promise.all([redis.info('commandstats'), redis.info('cpu')]);
  const calls = new Map<string, number>();
  for (const [field, value] of Object.entries(stats)) {
    const count = /calls=(\d+)/.exec(value)?.[1];
    if (field.startsWith('cmdstat_') && count) calls.set(field.slice(8), Number(count));
  }
  const cpuMs = (Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys)) * 1000;
  return { calls, cpuMs };
}

/** Starts a fresh Redis for one measurement (so no run inherits another's data or AOF). */
async function withRedis<T>(fsync: Fsync, run: (redis: RedisServer) => Promise<T>): Promise<T> {
  // testkit passes --appendfsync always; a later argument overrides it.
  const redis = await startRedis({ args: ['--appendfsync', fsync] });
  try {
    return await run(redis);
  } finally {
    await redis.stop();
  }
}

export async function runRedisEcho(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const modes = config.redisEcho.appendfsync;
  const rows = new Map<Fsync, Row>();
  for (const fsync of modes) {
    const r = row(
      `Echo, 64-byte JSON-like object, sessions in Redis (appendfsync ${fsync})`,
      `round trips/s (window ${config.echo.window})`,
      true,
    );
    r.group = 'shared';
    rows.set(fsync, r);
  }
  const perTrip = (metric: string, decimals: number) => {
    const r = row(
      `Echo, 64-byte JSON-like object, sessions in Redis: Redis load`,
      metric,
      false,
      decimals,
    );
    r.group = 'shared';
    return r;
  };
  const serverCpu = perTrip(
    `server process CPU per round trip, µs (Redis with appendfsync ${modes[0]})`,
    1,
  );
  serverCpu.scenario = 'Echo, 64-byte JSON-like object, sessions in Redis: server load';
  const commands = new Map<Fsync, Row>();
  const cpu = new Map<Fsync, Row>();
  for (const fsync of modes) {
    commands.set(
      fsync,
      perTrip(`Redis script runs (EVALSHA) per round trip (appendfsync ${fsync})`, 2),
    );
    cpu.set(fsync, perTrip(`Redis CPU per round trip, µs (appendfsync ${fsync})`, 1));
  }
  const variants: Variant[] = [];
  for (const system of systems) {
    if (system === 'probe-redis') for (const fsync of modes) variants.push({ system, fsync });
    else variants.push({ system });
  }
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const { system, fsync } of rotated(variants, rep)) {
      let load = '';
      const { rate, errors, serverCpuUs } = fsync
        ? await withRedis(fsync, async (redis) => {
            const before = await redisLoad(redis);
            const result = await echoOnce(system, 'json', config, {
              shared: { redisUrl: redis.url, ...config.handover },
            });
            const after = await redisLoad(redis);
            // Commands run inside scripts are counted too (Redis 7 counts them per command).
            const parts: string[] = [];
            const delta = (name: string) =>
              (after.calls.get(name) ?? 0) - (before.calls.get(name) ?? 0);
            for (const name of after.calls.keys()) {
              const d = delta(name);
              if (name !== 'info' && d / result.received >= 0.01) {
                parts.push(`${name} ${(d / result.received).toFixed(2)}`);
              }
            }
            add(commands.get(fsync)!, system, (delta('evalsha') + delta('eval')) / result.received);
            add(cpu.get(fsync)!, system, ((after.cpuMs - before.cpuMs) * 1000) / result.received);
            load = `; Redis per round trip (commands inside scripts included): ${parts.join(', ')}`;
            return result;
          })
        : await echoOnce(system, 'json', config);
      // Server CPU of Probe + Redis with the first appendfsync mode, beside the others.
      if (fsync === undefined || fsync === modes[0]) add(serverCpu, system, serverCpuUs);
      // In-memory systems are the same sample in every appendfsync row.
      for (const [mode, r] of rows) {
        if (fsync !== undefined && mode !== fsync) continue;
        add(r, system, rate);
        if (errors > 0) note(r, system, `${errors} send errors`);
      }
      log(
        `  redis-echo #${rep + 1} ${system}${fsync ? ` (appendfsync ${fsync})` : ''}: ${Math.round(rate)} rt/s, server ${serverCpuUs.toFixed(1)} µs CPU per round trip${load}`,
      );
    }
  }
  return [
    ...rows.values(),
    serverCpu,
    ...modes.flatMap((mode) => [commands.get(mode)!, cpu.get(mode)!]),
  ];
}
