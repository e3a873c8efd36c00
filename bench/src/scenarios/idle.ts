// Scenario 3: N idle connections with a 1 s heartbeat; server memory and CPU per connection.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BenchConfig } from '../config.js';
import { Child } from '../lib/child.js';
import { fdLimit } from '../lib/machine.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { sleep, until } from '../lib/time.js';
import { windowProfileDir } from '../lib/window-profile.js';
import type { SystemName } from '../systems/index.js';
import { split } from './fanout.js';

interface Memory {
  rss: number;
  heapUsed: number;
}

interface IdleResult {
  rssPerConn: number;
  heapPerConn: number;
  cpuPercent: number;
  kept: number;
  /** Connections open just before the CPU window. */
  before: number;
  /** Why the server lost connections, if it did. */
  lost: Record<string, number>;
  /** Longest event-loop stall of the server during the CPU window. */
  maxLoopDelayMs: number;
}

interface Stats {
  connections: number;
  lost: Record<string, number>;
  maxLoopDelayMs: number;
}

async function idleOnce(system: SystemName, config: BenchConfig, log: Log): Promise<IdleResult> {
  const { connections, clientProcs, settleMs, cpuMs, concurrency } = config.idle;
  // Client processes start up while the server does.
  const shares = split(connections, clientProcs);
  const procs = shares.map(() => new Child('clients', [], `clients-idle-${system}`));
  const server = await startServerChild(system, 'idle', config.heartbeat).catch(
    async (error: unknown) => {
      await Promise.all(procs.map((p) => p.stop()));
      throw error;
    },
  );
  try {
    // Warm-up: a few connections come and go first, so lazily initialised code and caches are
    // already in the 'before' figure and only per-connection memory is in the difference.
    await procs[0]!.call(
      'connect',
      { system, url: server.url, count: 20, concurrency: 20, timeoutMs: 20_000 },
      25_000,
    );
    await procs[0]!.call('closeAll');
    await until(
      async () => (await server.child.call<Stats>('stats')).connections === 0,
      10_000,
      'warm-up connections to close',
      50,
    );
    const before = await server.child.call<Memory>('memory');
    const connectMs = 60_000 + connections * 10;
    await Promise.all(
      procs.map((p, i) =>
        p.call(
          'connect',
          { system, url: server.url, count: shares[i], concurrency, timeoutMs: connectMs },
          connectMs + 10_000,
        ),
      ),
    );
    // Connections lost meanwhile show up as `kept` < N below (and the run is repeated).
    await until(
      async () => (await server.child.call<Stats>('stats')).connections >= connections,
      10_000,
      `${connections} connections on ${system}`,
      100,
    ).catch(() => {});
    await sleep(settleMs);
    const { connections: open } = await server.child.call<Stats>('stats');
    await server.child.call('resetLoopDelay');
    const profDir = windowProfileDir();
    if (profDir) await server.child.call('profileStart');
    const { cpuMs: used, wallMs } = await server.child.call<{ cpuMs: number; wallMs: number }>(
      'cpu',
      { ms: cpuMs },
      cpuMs + 10_000,
    );
    if (profDir) {
      const file = `${profDir}/idle-${system}-server-${Date.now()}.cpuprofile`;
      await server.child.call('profileStop', { file }, 30_000);
    }
    const stats = await server.child.call<Stats>('stats');
    const after = await server.child.call<Memory>('memory');
    if (process.env.BENCH_HEAP_SNAPSHOT) {
      const file = resolve(
        process.env.BENCH_HEAP_SNAPSHOT,
        `idle-${system}-${Date.now()}.heapsnapshot`,
      );
      mkdirSync(dirname(file), { recursive: true });
      await server.child.call('heapSnapshot', { file }, 120_000);
      log(`  heap snapshot: ${file}`);
    }
    return {
      rssPerConn: (after.rss - before.rss) / connections / 1024,
      heapPerConn: (after.heapUsed - before.heapUsed) / connections / 1024,
      cpuPercent: (used / wallMs) * 100,
      kept: stats.connections,
      before: open,
      lost: stats.lost,
      maxLoopDelayMs: stats.maxLoopDelayMs,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

export async function runIdle(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { connections, clientProcs, cpuMs } = config.idle;
  const limit = fdLimit();
  if (connections + 200 > limit) {
    throw new Error(
      `idle: ${connections} connections need more than the ${limit} open files allowed; ` +
        'raise it (ulimit -n) or lower BENCH_IDLE_N',
    );
  }
  const { intervalMs, timeoutMs } = config.heartbeat;
  const title = `Idle, ${connections} connections, heartbeat ${intervalMs}/${timeoutMs} ms`;
  const rss = row(title, 'server RSS per connection, KB', false, 1);
  const heap = row(title, 'server JS heap per connection, KB', false, 1);
  const cpu = row(title, `server CPU over ${cpuMs / 1000} s, % of one core`, false, 1);
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      // A run that lost connections (an event-loop stall longer than the probe timeout, e.g.
      // from other load on the machine) measured fewer than N; it is run again, twice at most.
      let result = await idleOnce(system, config, log);
      for (let retry = 1; retry <= 2 && result.kept < connections; retry++) {
        log(
          `  idle #${rep + 1} ${system}: ${connections - result.kept} connections dropped; running it again`,
        );
        result = await idleOnce(system, config, log);
      }
      add(rss, system, result.rssPerConn);
      add(heap, system, result.heapPerConn);
      add(cpu, system, result.cpuPercent);
      if (result.kept < connections) {
        note(cpu, system, `${connections - result.kept} connections dropped during the run`);
      }
      log(
        `  idle #${rep + 1} ${system}: ${result.rssPerConn.toFixed(1)} KB RSS/conn, ` +
          `${result.heapPerConn.toFixed(1)} KB heap/conn, ${result.cpuPercent.toFixed(1)} % CPU, ` +
          `${result.before}/${connections} open before and ${result.kept} after the CPU window, ` +
          `server max loop delay ${result.maxLoopDelayMs.toFixed(0)} ms, lost ${JSON.stringify(result.lost)} ` +
          `(${clientProcs} client procs)`,
      );
    }
  }
  return [rss, heap, cpu];
}
