// One measurement of the idle scenario: N idle connections of one system on one server process.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { BenchConfig } from '../config.js';
import { Child } from '../lib/child.js';
import { startServerChild } from '../lib/server-child.js';
import { sleep, until } from '../lib/time.js';
import { windowProfileDir } from '../lib/window-profile.js';
import type { SystemName } from '../systems/index.js';
import { split } from './fanout.js';

/** What the server child's `memory` command answers (bytes, after a full GC). */
export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  newSpace: number;
  external: number;
  arrayBuffers: number;
  anonymous: number;
  fileBacked: number;
}

interface Stats {
  connections: number;
  lost: Record<string, number>;
  maxLoopDelayMs: number;
  info: { sessions?: { open: number; suspended: number } };
}

/** Heartbeats the clients of one process saw during the CPU window. */
interface ProbeReport {
  clients: number;
  min: number;
  max: number;
  total: number;
  none: number;
  maxGapMs: number;
}

export interface IdleResult {
  /** Per connection held at the end, bytes: after − before, both after a full GC. */
  perConn: Memory;
  cpuPercent: number;
  /** Connections open just before the CPU window, and just after it. */
  before: number;
  kept: number;
  /** Why the server lost connections during the run, if it did. */
  lost: Record<string, number>;
  maxLoopDelayMs: number;
  /** Heartbeats per client over the window, over every client process. */
  probes: { min: number; max: number; none: number; maxGapMs: number; clients: number };
  /** Probe only: per session, bytes, once every client vanished and its session is suspended. */
  suspended?: { perSession: Memory; sessions: number } | undefined;
}

function perConnection(after: Memory, before: Memory, n: number): Memory {
  const out = {} as Memory;
  for (const key of Object.keys(after) as (keyof Memory)[]) {
    out[key] = (after[key] - before[key]) / n;
  }
  return out;
}

/** Loopback source address of client process `i`: 127.0.0.2, 127.0.0.3, … */
export function sourceAddress(i: number): string {
  return `127.0.0.${2 + (i % 250)}`;
}

export async function idleOnce(
  system: SystemName,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<IdleResult> {
  const { connections, clientProcs, settleMs, cpuMs, concurrency, heartbeat } = config.idle;
  // Client processes start up while the server does.
  const shares = split(connections, clientProcs);
  const procs = shares.map(() => new Child('clients', [], `clients-idle-${system}`));
  const server = await startServerChild(system, 'idle', heartbeat).catch(async (error: unknown) => {
    await Promise.all(procs.map((p) => p.stop()));
    throw error;
  });
  const stats = () => server.child.call<Stats>('stats');
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
      async () => (await stats()).connections === 0,
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
          {
            system,
            url: server.url,
            count: shares[i],
            concurrency,
            timeoutMs: connectMs,
            localAddress: sourceAddress(i),
            trackProbes: true,
          },
          connectMs + 10_000,
        ),
      ),
    );
    // Connections lost meanwhile show up as `kept` < N below (and the run is repeated).
    await until(
      async () => (await stats()).connections >= connections,
      10_000,
      `${connections} connections on ${system}`,
      100,
    ).catch(() => {});
    await sleep(settleMs);
    const { connections: open } = await stats();
    await server.child.call('resetLoopDelay');
    const profDir = windowProfileDir();
    if (profDir) await server.child.call('profileStart');
    await Promise.all(procs.map((p) => p.call('probeMark')));
    const { cpuMs: used, wallMs } = await server.child.call<{ cpuMs: number; wallMs: number }>(
      'cpu',
      { ms: cpuMs },
      cpuMs + 10_000,
    );
    const reports = await Promise.all(procs.map((p) => p.call<ProbeReport>('probeReport')));
    if (profDir) {
      const file = `${profDir}/idle-${system}-server-${Date.now()}.cpuprofile`;
      await server.child.call('profileStop', { file }, 30_000);
    }
    const end = await stats();
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
    // Per connection held: a system that lost some during the run is not credited with them.
    const held = Math.max(1, Math.min(connections, end.connections));
    const result: IdleResult = {
      perConn: perConnection(after, before, held),
      cpuPercent: (used / wallMs) * 100,
      before: open,
      kept: end.connections,
      lost: end.lost,
      maxLoopDelayMs: end.maxLoopDelayMs,
      probes: {
        min: Math.min(...reports.map((r) => r.min)),
        max: Math.max(...reports.map((r) => r.max)),
        none: reports.reduce((sum, r) => sum + r.none, 0),
        maxGapMs: Math.max(...reports.map((r) => r.maxGapMs)),
        clients: reports.reduce((sum, r) => sum + r.clients, 0),
      },
    };
    if (system === 'probe' && config.idle.suspended) {
      result.suspended = await suspendAll(procs, stats, server.child, before, connections);
    }
    return result;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await server.stop();
  }
}

/**
 * Every client process is killed at once (the kernel closes its sockets; no client says
 * goodbye), so every session is suspended and held for its resume; then memory after a full GC.
 */
async function suspendAll(
  procs: Child[],
  stats: () => Promise<Stats>,
  server: Child,
  before: Memory,
  connections: number,
): Promise<IdleResult['suspended']> {
  for (const p of procs) p.process.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exitedPromise));
  let sessions = 0;
  await until(
    async () => {
      const s = await stats();
      sessions = s.info.sessions?.suspended ?? 0;
      return s.connections === 0 && sessions >= connections;
    },
    30_000,
    'every session suspended',
    200,
  ).catch(() => {});
  const memory = await server.call<Memory>('memory');
  return { perSession: perConnection(memory, before, connections), sessions };
}
