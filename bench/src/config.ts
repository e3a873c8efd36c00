import type { Heartbeat } from './systems/index.js';

/** Every knob of a run. `smoke` shrinks everything so CI finishes in well under a minute. */
export interface BenchConfig {
  smoke: boolean;
  repeat: number;
  echo: { warmupMs: number; measureMs: number; window: number; binaryBytes: number };
  fanout: {
    clients: number;
    messages: number;
    warmupMessages: number;
    batch: number;
    clientProcs: number;
  };
  idle: {
    connections: number;
    /** Client processes; process i connects from 127.0.0.(i + 2). */
    clientProcs: number;
    settleMs: number;
    /** The measured window (CPU, heartbeats seen). */
    cpuMs: number;
    concurrency: number;
    /** Heartbeat of the idle scenario (defaults to {@link BenchConfig.heartbeat}). */
    heartbeat: Heartbeat;
    /** Probe: also measure the sessions suspended once every client vanished. */
    suspended: boolean;
  };
  /** Probe interval/timeout shared by idle, detection and resume on every system. */
  heartbeat: Heartbeat;
  detection: { trials: number };
  resume: {
    trials: number;
    outageMs: number;
    sendEveryMs: number;
    /** Traffic before the outage, after traffic resumed, and time allowed for echoes to drain. */
    leadMs: number;
    tailMs: number;
    drainMs: number;
  };
  /** Shortened hand-over knobs for the smoke run; the full run keeps Probe's defaults. */
  handover: { handoverTimeoutMs?: number; nodeHeartbeatMs?: number };
  redisEcho: { appendfsync: readonly ('always' | 'everysec')[] };
  resumeElsewhere: { clients: number; concurrency: number; timeoutMs: number };
  redisMemory: { sessions: number; settleMs: number };
  killNode: {
    clients: number;
    nodes: number;
    /** Each client sends, and each node sends to each of its clients, one message this often. */
    everyMs: number;
    /** Traffic before the kill, traffic after it, and time for the last messages to arrive. */
    leadMs: number;
    afterMs: number;
    drainMs: number;
  };
  roomBroadcast: {
    /** Room members, spread evenly over the nodes (one client process per node). */
    members: number;
    nodes: number;
    /** Closed loop: each node publishes this many broadcasts per round. */
    perNodeRound: number;
    warmupMs: number;
    measureMs: number;
    /** Fixed offered rates, broadcasts/s over all nodes (the nodes publish in turn), in order. */
    rates: readonly number[];
    pacedMs: number;
    /** A round (or a drain) ends when nothing more arrived for this long. */
    stallMs: number;
  };
}

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** Idle-scenario settings from the command line (each overrides its BENCH_IDLE_* variable). */
export interface IdleFlags {
  connections?: number | undefined;
  probeIntervalMs?: number | undefined;
  probeTimeoutMs?: number | undefined;
  windowMs?: number | undefined;
  clientProcs?: number | undefined;
}

/** At most this many connections per client process (the hard open-files limit is 20,000). */
const PER_CLIENT_PROC = 5_000;

export function makeConfig(
  smoke: boolean,
  repeat: number | undefined,
  idle: IdleFlags = {},
): BenchConfig {
  const idleConnections = idle.connections ?? envInt('BENCH_IDLE_N', smoke ? 200 : 10_000);
  const heartbeat = smoke
    ? { intervalMs: 300, timeoutMs: 150 }
    : { intervalMs: 1_000, timeoutMs: 500 };
  const idleInterval = idle.probeIntervalMs ?? heartbeat.intervalMs;
  const idleHeartbeat = {
    intervalMs: idleInterval,
    timeoutMs:
      idle.probeTimeoutMs ??
      (idle.probeIntervalMs === undefined ? heartbeat.timeoutMs : Math.round(idleInterval / 2)),
  };
  return {
    smoke,
    repeat: repeat ?? (smoke ? 1 : 3),
    echo: {
      warmupMs: smoke ? 200 : 1_500,
      measureMs: envInt('BENCH_ECHO_MS', smoke ? 300 : 3_000),
      window: 1_000,
      binaryBytes: 4_096,
    },
    fanout: {
      clients: envInt('BENCH_FANOUT_N', smoke ? 50 : 1_000),
      messages: envInt('BENCH_FANOUT_MESSAGES', smoke ? 50 : 1_000),
      warmupMessages: smoke ? 10 : 200,
      batch: 10,
      clientProcs: envInt('BENCH_FANOUT_PROCS', 1),
    },
    idle: {
      connections: idleConnections,
      clientProcs: Math.max(
        idle.clientProcs ?? envInt('BENCH_IDLE_PROCS', idleConnections >= 2_000 ? 2 : 1),
        Math.ceil(idleConnections / PER_CLIENT_PROC),
      ),
      settleMs: smoke ? 400 : 3_000,
      // A window of at least one interval, so every connection is probed in it.
      cpuMs:
        idle.windowMs ??
        envInt('BENCH_IDLE_CPU_MS', smoke ? 600 : Math.max(10_000, idleHeartbeat.intervalMs)),
      concurrency: 100,
      heartbeat: idleHeartbeat,
      suspended: true,
    },
    heartbeat,
    detection: { trials: envInt('BENCH_DETECT_TRIALS', smoke ? 2 : 8) },
    resume: {
      trials: envInt('BENCH_RESUME_TRIALS', smoke ? 2 : 5),
      outageMs: smoke ? 700 : 3_000,
      sendEveryMs: 20,
      leadMs: smoke ? 300 : 1_000,
      tailMs: smoke ? 200 : 1_000,
      drainMs: smoke ? 500 : 1_500,
    },
    handover: smoke ? { handoverTimeoutMs: 300, nodeHeartbeatMs: 200 } : {},
    redisEcho: {
      appendfsync: (process.env.BENCH_REDIS_FSYNC ?? (smoke ? 'always' : 'always,everysec'))
        .split(',')
        .map((mode) => {
          if (mode !== 'always' && mode !== 'everysec') {
            throw new Error('BENCH_REDIS_FSYNC takes always and/or everysec');
          }
          return mode;
        }),
    },
    resumeElsewhere: {
      clients: envInt('BENCH_RESUME_ELSEWHERE_N', smoke ? 20 : 200),
      concurrency: 50,
      timeoutMs: smoke ? 10_000 : 30_000,
    },
    redisMemory: {
      sessions: envInt('BENCH_REDIS_MEMORY_N', smoke ? 200 : 2_000),
      settleMs: smoke ? 300 : 2_000,
    },
    killNode: {
      clients: envInt('BENCH_KILL_N', smoke ? 15 : 90),
      nodes: 3,
      everyMs: 50,
      leadMs: smoke ? 800 : 3_000,
      afterMs: smoke ? 1_500 : 7_000,
      drainMs: smoke ? 700 : 3_000,
    },
    roomBroadcast: {
      members: envInt('BENCH_ROOM_N', smoke ? 60 : 1_000),
      nodes: smoke ? 2 : 3,
      perNodeRound: smoke ? 5 : 20,
      warmupMs: smoke ? 100 : 1_000,
      measureMs: envInt('BENCH_ROOM_MS', smoke ? 300 : 5_000),
      rates: (process.env.BENCH_ROOM_RATES ?? (smoke ? '20' : '10,30')).split(',').map((r) => {
        const rate = Number(r);
        if (!(rate > 0)) throw new Error('BENCH_ROOM_RATES takes broadcasts/s, comma-separated');
        return rate;
      }),
      pacedMs: smoke ? 300 : 4_000,
      stallMs: smoke ? 500 : 3_000,
    },
  };
}

/** A ~64-byte JSON-like message (66 bytes as JSON while n < 10). */
export const SMALL_MESSAGE = Object.freeze({
  type: 'chat',
  room: 'lobby',
  user: 'alice',
  text: 'hello',
  n: 1,
});
