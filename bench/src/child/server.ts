// Server process: runs one system's server and answers the orchestrator's commands.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { emitEvent, serve } from '../lib/child-runtime.js';
import { epochNow, sleep } from '../lib/time.js';
import { startProfile, stopProfile } from '../lib/window-profile.js';
import { adapter, type BenchServer, type Heartbeat, type SystemName } from '../systems/index.js';

let server: BenchServer | undefined;
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const lostReasons = new Map<string, number>();
let cpuMark = process.cpuUsage();

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect) {
    collect();
    collect();
  }
}

function need(): BenchServer {
  if (!server) throw new Error('server not started');
  return server;
}

serve(
  {
    async start(args: { system: SystemName; heartbeat?: Heartbeat }) {
      server = await (await adapter(args.system)).startServer(
        { heartbeat: args.heartbeat },
        {
          onLost: (key, reason) => {
            lostReasons.set(reason, (lostReasons.get(reason) ?? 0) + 1);
            emitEvent('lost', { key, reason, t: epochNow() });
          },
        },
      );
      return { port: server.port };
    },
    stats() {
      const s = need();
      return {
        connections: s.connections(),
        roomSize: s.roomSize(),
        info: s.info(),
        lost: Object.fromEntries(lostReasons),
        maxLoopDelayMs: loopDelay.max / 1e6,
      };
    },
    resetLoopDelay() {
      loopDelay.reset();
      return {};
    },
    /** Broadcasts `count` messages to the room, `batch` per event-loop turn. */
    async broadcast(args: { count: number; batch: number; payload: Record<string, unknown> }) {
      const s = need();
      const t = epochNow();
      const started = performance.now();
      for (let sent = 0; sent < args.count; ) {
        const end = Math.min(args.count, sent + args.batch);
        for (; sent < end; sent++) s.broadcast({ ...args.payload, n: sent });
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { t, enqueueMs: performance.now() - started };
    },
    /** Memory after a full GC (the process runs with --expose-gc). */
    async memory() {
      gc();
      await sleep(50);
      gc();
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external };
    },
    /** CPU time this process used over the next `ms`, as user+system ms and wall ms. */
    async cpu(args: { ms: number }) {
      const before = process.cpuUsage();
      const t0 = performance.now();
      await sleep(args.ms);
      const used = process.cpuUsage(before);
      return { cpuMs: (used.user + used.system) / 1000, wallMs: performance.now() - t0 };
    },
    /** Starts a CPU-time measurement; `cpuSince` returns the CPU ms used since. */
    cpuMark() {
      cpuMark = process.cpuUsage();
      return {};
    },
    cpuSince() {
      const used = process.cpuUsage(cpuMark);
      return { cpuMs: (used.user + used.system) / 1000 };
    },
    /** Writes a heap snapshot (after a full GC) for tools/heap-top.ts. */
    heapSnapshot(args: { file: string }) {
      gc();
      return { file: writeHeapSnapshot(args.file) };
    },
    profileStart: () => startProfile(),
    async profileStop(args: { file: string }) {
      return { file: await stopProfile(args.file) };
    },
    async close() {
      await server?.close();
      server = undefined;
    },
  },
  async () => {
    await server?.close();
  },
);
