// Scenario 2: many clients in one room, the server broadcasts; deliveries per second.
import { type BenchConfig, SMALL_MESSAGE } from '../config.js';
import { Child } from '../lib/child.js';
import { add, type Log, type Row, rotated, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { until } from '../lib/time.js';
import { windowProfileDir } from '../lib/window-profile.js';
import type { SystemName } from '../systems/index.js';

/** Splits `total` as evenly as possible into `parts`. */
export function split(total: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0),
  );
}

async function fanoutOnce(
  system: SystemName,
  config: BenchConfig,
): Promise<{ rate: number; serverCpuUs: number }> {
  const { clients, messages, warmupMessages, batch, clientProcs } = config.fanout;
  // Client processes start up while the server does.
  const shares = split(clients, clientProcs);
  const procs = shares.map(() => new Child('clients', [], `clients-fanout-${system}`));
  const server = await startServerChild(system, 'fanout').catch(async (error: unknown) => {
    await Promise.all(procs.map((p) => p.stop()));
    throw error;
  });
  try {
    await Promise.all(
      procs.map((p, i) =>
        p.call(
          'connect',
          { system, url: server.url, count: shares[i], concurrency: 50, timeoutMs: 60_000 },
          70_000,
        ),
      ),
    );
    await until(
      async () => (await server.child.call<{ roomSize: number }>('stats')).roomSize === clients,
      20_000,
      `${clients} room members on ${system}`,
      50,
    );
    const round = async (count: number) => {
      await Promise.all(procs.map((p) => p.call('reset')));
      const done = procs.map((p, i) =>
        p.call<{ t: number }>('expect', { total: shares[i]! * count, timeoutMs: 120_000 }, 125_000),
      );
      await server.child.call('cpuMark');
      const { t: start } = await server.child.call<{ t: number }>(
        'broadcast',
        { count, batch, payload: SMALL_MESSAGE },
        120_000,
      );
      const ends = await Promise.all(done);
      const { cpuMs } = await server.child.call<{ cpuMs: number }>('cpuSince');
      const end = Math.max(...ends.map((e) => e.t));
      const deliveries = clients * count;
      return {
        rate: (deliveries * 1000) / (end - start),
        serverCpuUs: (cpuMs * 1000) / deliveries,
      };
    };
    await round(warmupMessages);
    const profDir = windowProfileDir();
    if (profDir) await server.child.call('profileStart');
    const result = await round(messages);
    if (profDir) {
      const file = `${profDir}/fanout-${system}-server-${Date.now()}.cpuprofile`;
      await server.child.call('profileStop', { file }, 30_000);
    }
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

export async function runFanout(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { clients, messages } = config.fanout;
  const title = `Fan-out, ${clients} clients in one room, ${messages} broadcasts`;
  const r = row(title, 'deliveries/s', true);
  const cpu = row(title, 'server CPU per delivery, µs', false, 2);
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      const { rate, serverCpuUs } = await fanoutOnce(system, config);
      add(r, system, rate);
      add(cpu, system, serverCpuUs);
      log(
        `  fan-out #${rep + 1} ${system}: ${Math.round(rate)} deliveries/s, ` +
          `server ${serverCpuUs.toFixed(2)} µs CPU per delivery`,
      );
    }
  }
  return [r, cpu];
}
