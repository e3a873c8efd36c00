// Scenario 4: a path goes silent (fault proxy blackhole); how long until each side notices.
import { createFaultProxy, type FaultProxy } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { epochNow, sleep, until, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

/** Raw ws clients have no heartbeat of their own: only the server side is measured. */
const CLIENT_DETECTS: Record<SystemName, boolean> = {
  ws: false,
  socketio: true,
  'socketio-recovery': true,
  probe: true,
  'socketio-redis': true,
  'probe-redis': true,
  'socketio-redis-pubsub': true,
  'probe-redis-volatile': true,
};

interface Trial {
  key: string;
  proxy: FaultProxy;
  client?: BenchClient;
  blackholedAt?: number;
  serverMs?: number;
  clientMs?: number;
}

async function detectionOnce(system: SystemName, config: BenchConfig, log: Log) {
  const { intervalMs, timeoutMs } = config.heartbeat;
  const server = await startServerChild(system, 'detection', config.heartbeat);
  const trials: Trial[] = [];
  try {
    for (let i = 0; i < config.detection.trials; i++) {
      trials.push({ key: `d${i}`, proxy: await createFaultProxy({ targetPort: server.port }) });
    }
    const byKey = new Map(trials.map((t) => [t.key, t]));
    server.child.onEvent((event) => {
      if (event.event !== 'lost') return;
      const trial = byKey.get(String(event.key));
      if (trial?.blackholedAt === undefined || trial.serverMs !== undefined) return;
      trial.serverMs = Number(event.t) - trial.blackholedAt;
    });
    for (const trial of trials) {
      trial.client = (await adapter(system)).connect(
        trial.proxy.url(),
        { key: trial.key, reconnect: false },
        {
          onMessage: () => {},
          onDown: () => {
            if (trial.blackholedAt === undefined || trial.clientMs !== undefined) return;
            trial.clientMs = epochNow() - trial.blackholedAt;
          },
        },
      );
    }
    await withTimeout(
      Promise.all(trials.map((t) => t.client!.opened)),
      15_000,
      `${system} detection clients open`,
    );
    // Let heartbeats settle, then cut each path at a random phase of its schedule.
    await sleep(2 * intervalMs);
    await Promise.all(
      trials.map(async (trial) => {
        await sleep(Math.random() * intervalMs);
        const link = trial.proxy.latest();
        if (!link) throw new Error(`${system}: trial ${trial.key} has no proxied connection`);
        trial.blackholedAt = epochNow();
        link.blackhole();
      }),
    );
    const waitMs = 2 * (intervalMs + timeoutMs) + 2_000;
    await until(
      () =>
        trials.every(
          (t) => t.serverMs !== undefined && (!CLIENT_DETECTS[system] || t.clientMs !== undefined),
        ),
      waitMs,
      'detection on both sides',
      5,
    ).catch(() => log(`  ${system}: some trials were not detected within ${waitMs} ms`));
    return trials.map((t) => ({
      serverMs: t.serverMs ?? Number.POSITIVE_INFINITY,
      clientMs: CLIENT_DETECTS[system] ? (t.clientMs ?? Number.POSITIVE_INFINITY) : Number.NaN,
    }));
  } finally {
    for (const trial of trials) trial.client?.close();
    await Promise.all(trials.map((t) => t.proxy.close()));
    await server.stop();
  }
}

export async function runDetection(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { intervalMs, timeoutMs } = config.heartbeat;
  const title = `Detection of a blackholed path, interval ${intervalMs} ms + timeout ${timeoutMs} ms`;
  const serverRow = row(title, 'server notices after, ms (all trials)', false);
  const clientRow = row(title, 'client notices after, ms (all trials)', false);
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      const results = await detectionOnce(system, config, log);
      for (const r of results) {
        add(serverRow, system, r.serverMs);
        if (!Number.isNaN(r.clientMs)) add(clientRow, system, r.clientMs);
      }
      const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
      log(
        `  detection #${rep + 1} ${system}: server [${fmt(results.map((r) => r.serverMs))}] ms, ` +
          `client [${fmt(results.map((r) => r.clientMs))}] ms`,
      );
    }
  }
  for (const system of systems) {
    if (!CLIENT_DETECTS[system]) note(clientRow, system, 'no client-side heartbeat');
  }
  return [serverRow, clientRow];
}
