// Server process: runs one system's server and answers the orchestrator's commands.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { emitEvent, serve } from '../lib/child-runtime.js';
import { epochNow, monoNow, sleep } from '../lib/time.js';
import { startProfile, stopProfile } from '../lib/window-profile.js';
import {
  adapter,
  type BenchServer,
  type Heartbeat,
  type SharedStore,
  type SystemName,
} from '../systems/index.js';

let server: BenchServer | undefined;
/**
 * Event log (multi-node scenarios): one line per message received, message sent and session
 * opened, written synchronously, so what a node did before it was killed is all on disk.
 *   r <key> <n> <redelivered 0|1> <t>   a client message reached the application
 *   s <key> <n> <t>                     the application sent {o: tag, n} to client <key>
 *   o <key> <moved 0|1> <t>             a session opened (or moved / was recovered) here
 * <t> is the wall clock in ms since the epoch.
 */
let logFd: number | undefined;
let traffic: NodeJS.Timeout | undefined;
const sentTo = new Map<string, number>();
const sessions = { opened: 0, moved: 0 };

function logLine(line: string): void {
  if (logFd !== undefined) writeSync(logFd, `${line}\t${epochNow().toFixed(1)}\n`);
}
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

/** Anonymous and file-backed resident bytes from /proc/self/smaps_rollup (Linux), else 0. */
function smapsRollup(): { anonymous: number; fileBacked: number } {
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    const anonymous = kb('Anonymous') * 1024;
    return { anonymous, fileBacked: kb('Rss') * 1024 - anonymous };
  } catch {
    return { anonymous: 0, fileBacked: 0 };
  }
}

function need(): BenchServer {
  if (!server) throw new Error('server not started');
  return server;
}

serve(
  {
    async start(args: {
      system: SystemName;
      heartbeat?: Heartbeat;
      shared?: SharedStore;
      echo?: boolean;
      logFile?: string;
    }) {
      if (args.logFile) logFd = openSync(args.logFile, 'a');
      const logging = logFd !== undefined;
      server = await (await adapter(args.system)).startServer(
        { heartbeat: args.heartbeat, shared: args.shared, echo: args.echo },
        {
          onLost: (key, reason) => {
            lostReasons.set(reason, (lostReasons.get(reason) ?? 0) + 1);
            emitEvent('lost', { key, reason, t: epochNow() });
          },
          onSession: (key, moved) => {
            sessions.opened++;
            if (moved) sessions.moved++;
            logLine(`o\t${key}\t${moved ? 1 : 0}`);
          },
          ...(logging && {
            onMessage: (key: string, data: unknown, redelivered: boolean) => {
              logLine(`r\t${key}\t${(data as { n: number }).n}\t${redelivered ? 1 : 0}`);
            },
          }),
        },
      );
      return { port: server.port };
    },
    /** Sessions (sockets) that opened here so far, and how many of them moved here. */
    sessions() {
      return { ...sessions };
    },
    /** Every `everyMs`, sends {o: tag, n} to every client served here, n counting per client. */
    traffic(args: { everyMs: number; tag: string }) {
      const s = need();
      clearInterval(traffic);
      traffic = setInterval(() => {
        s.sendEach(
          (key) => {
            const n = (sentTo.get(key) ?? 0) + 1;
            sentTo.set(key, n);
            return { o: args.tag, n };
          },
          (key, data) => logLine(`s\t${key}\t${(data as { n: number }).n}`),
        );
      }, args.everyMs);
      return {};
    },
    stopTraffic() {
      clearInterval(traffic);
      traffic = undefined;
      return {};
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
    /**
     * Room broadcast, closed loop: `count` broadcasts at once, each stamped with the monotonic
     * time of its broadcast() call (`ts`), this node's index (`o`) and a number (`n`).
     */
    roomBurst(args: { count: number; node: number; from: number; text: string }) {
      const s = need();
      for (let i = 0; i < args.count; i++) {
        s.broadcast({ ts: monoNow(), o: args.node, n: args.from + i, text: args.text });
      }
      return {};
    },
    /**
     * Room broadcast at a fixed rate: broadcast j of the whole cluster is due at
     * `startAt + j / rate` s (monotonic clock); this node publishes those with
     * j ≡ node (mod nodes), until `durationMs` after `startAt`. Returns how many it sent and
     * how late the latest call was, ms.
     */
    async roomPaced(args: {
      rate: number;
      node: number;
      nodes: number;
      startAt: number;
      durationMs: number;
      text: string;
    }) {
      const s = need();
      let sent = 0;
      let maxLateMs = 0;
      for (let j = args.node; ; j += args.nodes) {
        const due = args.startAt + (j * 1000) / args.rate;
        if (due >= args.startAt + args.durationMs) break;
        const wait = due - monoNow();
        if (wait > 0) await sleep(wait);
        const now = monoNow();
        maxLateMs = Math.max(maxLateMs, now - due);
        s.broadcast({ ts: now, o: args.node, n: j, text: args.text });
        sent++;
      }
      return { sent, maxLateMs };
    },
    /** Memory after a full GC (the process runs with --expose-gc). */
    async memory() {
      gc();
      await sleep(50);
      gc();
      const m = process.memoryUsage();
      const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
      return {
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        newSpace: newSpace?.space_size ?? 0,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
        ...smapsRollup(),
      };
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
      clearInterval(traffic);
      await server?.close();
      server = undefined;
      if (logFd !== undefined) closeSync(logFd);
      logFd = undefined;
    },
  },
  async () => {
    clearInterval(traffic);
    await server?.close();
  },
);
