// Several nodes, 5: one room whose members are spread evenly over the nodes (server child
// processes sharing one Redis); broadcasts to the room are published from the nodes in turn.
// Deliveries per second in a closed loop, then latency from the broadcast() call to receipt
// at a fixed offered rate (the payload carries the machine's monotonic time of the call).
import { startRedis } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { Child } from '../lib/child.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { type ServerChild, startServerChild } from '../lib/server-child.js';
import { percentile } from '../lib/stats.js';
import { monoNow, until } from '../lib/time.js';
import type { SystemName } from '../systems/index.js';
import { split } from './fanout.js';

/** About 64 bytes of JSON with the other fields. */
const TEXT = 'hello, room';

interface Paced {
  rate: number;
  p50: number;
  p99: number;
  max: number;
  /** Broadcasts × members − deliveries received (negative: more than that). */
  missing: number;
  /** Latest broadcast() call after its due time, ms (timer and event-loop lag). */
  maxLateMs: number;
}

export interface RoomResult {
  /** Closed loop: deliveries counted by the members ÷ time from the first publish to the last delivery. */
  rate: number;
  /** Closed loop (warm-up included): broadcasts × members − deliveries received. */
  missingLoop: number;
  paced: Paced[];
  /** Members that lost their connection during the run (they do not reconnect), by reason. */
  down: Record<string, number>;
}

async function roomOnce(system: SystemName, config: BenchConfig): Promise<RoomResult> {
  const c = config.roomBroadcast;
  const shares = split(c.members, c.nodes);
  const redis = await startRedis();
  // Client processes start up while the nodes do.
  const procs = shares.map((_, i) => new Child('room-clients', [], `clients-room-${system}-${i}`));
  const nodes: ServerChild[] = [];
  try {
    const started = await Promise.allSettled(
      shares.map(() =>
        startServerChild(system, 'room-broadcast', undefined, {
          shared: { redisUrl: redis.url, ...config.handover },
          echo: false,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    await Promise.all(
      procs.map((p, i) =>
        p.call(
          'connect',
          { system, url: nodes[i]!.url, count: shares[i], concurrency: 50, timeoutMs: 40_000 },
          45_000,
        ),
      ),
    );
    await until(
      async () => {
        const sizes = await Promise.all(
          nodes.map((n) => n.child.call<{ roomSize: number }>('stats')),
        );
        return sizes.reduce((sum, s) => sum + s.roomSize, 0) === c.members;
      },
      20_000,
      `${c.members} room members on ${system}`,
      50,
    );

    // Every delivery of every broadcast so far arrived, or nothing more for stallMs: the next
    // phase starts without a backlog.
    const sentSoFar = { count: 0 };
    /** Members that lost their connection (members do not reconnect), by reason. */
    const down: Record<string, number> = {};
    const drain = async () => {
      const got = await Promise.all(
        procs.map((p, i) =>
          p.call<{ received: number; down: Record<string, number> }>(
            'expect',
            { total: shares[i]! * sentSoFar.count, stallMs: c.stallMs, timeoutMs: 20_000 },
            25_000,
          ),
        ),
      );
      for (const key of Object.keys(down)) delete down[key];
      for (const g of got)
        for (const [why, n] of Object.entries(g.down)) down[why] = (down[why] ?? 0) + n;
      return sentSoFar.count * c.members - got.reduce((sum, g) => sum + g.received, 0);
    };

    // Closed loop: in each round every node publishes perNodeRound broadcasts; the next round
    // starts once every member has them all (or nothing more arrived for stallMs).
    const counts = shares.map(() => 0);
    const round = async () => {
      const per = c.perNodeRound * c.nodes;
      const done = procs.map((p, i) =>
        p.call<{ received: number }>(
          'expect',
          { total: counts[i]! + shares[i]! * per, stallMs: c.stallMs, timeoutMs: 30_000 },
          35_000,
        ),
      );
      const from = sentSoFar.count;
      sentSoFar.count += per;
      await Promise.all(
        nodes.map((n, i) =>
          n.child.call('roomBurst', {
            count: c.perNodeRound,
            node: i,
            from: from + i * c.perNodeRound,
            text: TEXT,
          }),
        ),
      );
      let deliveries = 0;
      (await Promise.all(done)).forEach((g, i) => {
        deliveries += g.received - counts[i]!;
        counts[i] = g.received;
      });
      return deliveries;
    };
    const loop = async (ms: number) => {
      const t0 = performance.now();
      let deliveries = 0;
      do deliveries += await round();
      while (performance.now() - t0 < ms);
      return { deliveries, ms: performance.now() - t0 };
    };
    await loop(c.warmupMs);
    const measured = await loop(c.measureMs);
    const missingLoop = await drain();

    // Fixed offered rates, every member recording latencies.
    const paced: Paced[] = [];
    for (const rate of c.rates) {
      await Promise.all(procs.map((p) => p.call('record', { on: true })));
      const startAt = monoNow() + 100;
      const calls = await Promise.all(
        nodes.map((n, i) =>
          n.child.call<{ sent: number; maxLateMs: number }>(
            'roomPaced',
            { rate, node: i, nodes: c.nodes, startAt, durationMs: c.pacedMs, text: TEXT },
            c.pacedMs + 30_000,
          ),
        ),
      );
      sentSoFar.count += calls.reduce((sum, p) => sum + p.sent, 0);
      const missing = await drain();
      await Promise.all(procs.map((p) => p.call('record', { on: false })));
      const latencies: number[] = [];
      for (const p of procs) {
        const { latencies: l } = await p.call<{ latencies: Float64Array }>('takeLatencies');
        for (const v of l) latencies.push(v);
      }
      paced.push({
        rate,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.reduce((m, v) => Math.max(m, v), 0),
        missing,
        maxLateMs: Math.max(...calls.map((p) => p.maxLateMs)),
      });
    }
    return { rate: (measured.deliveries * 1000) / measured.ms, missingLoop, paced, down };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
  }
}

export async function runRoomBroadcast(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const c = config.roomBroadcast;
  const base = `Room broadcast, ${c.members} members over ${c.nodes} nodes on one Redis`;
  const loopTitle = `${base}, closed loop (each node publishes ${c.perNodeRound} per round)`;
  const rate = row(loopTitle, 'deliveries/s', true);
  const missingLoop = row(loopTitle, 'deliveries missing (broadcasts × members − received)', false);
  const pacedRows = c.rates.map((r) => {
    const title = `${base}, fixed rate ${r} broadcasts/s (${r * c.members} deliveries/s offered)`;
    return {
      p50: row(title, 'broadcast() call → receipt, ms, p50', false, 1),
      p99: row(title, 'broadcast() call → receipt, ms, p99', false, 1),
      max: row(title, 'broadcast() call → receipt, ms, max', false, 1),
      missing: row(title, 'deliveries missing (broadcasts × members − received)', false),
    };
  });
  const all = [rate, missingLoop, ...pacedRows.flatMap((p) => [p.p50, p.p99, p.max, p.missing])];
  for (const r of all) r.group = 'shared';
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      const t0 = performance.now();
      const r = await roomOnce(system, config);
      add(rate, system, r.rate);
      add(missingLoop, system, r.missingLoop);
      const parts = r.paced.map((p, k) => {
        const rows = pacedRows[k]!;
        add(rows.p50, system, p.p50);
        add(rows.p99, system, p.p99);
        add(rows.max, system, p.max);
        add(rows.missing, system, p.missing);
        if (p.maxLateMs > 20) {
          note(
            rows.p99,
            system,
            `run ${rep + 1}: a broadcast() call ${p.maxLateMs.toFixed(0)} ms after its due time`,
          );
        }
        return (
          `at ${p.rate}/s: p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, ` +
          `max ${p.max.toFixed(1)} ms, ${p.missing} missing, latest call ${p.maxLateMs.toFixed(1)} ms late`
        );
      });
      const downs = Object.entries(r.down).map(([why, n]) => `${n} × ${why}`);
      if (downs.length > 0) {
        note(
          missingLoop,
          system,
          `run ${rep + 1}: members disconnected (not reconnecting): ${downs.join(', ')}`,
        );
      }
      log(
        `  room-broadcast #${rep + 1} ${system}: ${Math.round(r.rate)} deliveries/s closed loop ` +
          `(${r.missingLoop} missing); ${parts.join('; ')}; ` +
          `members down: ${downs.join(', ') || 'none'}; ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
  }
  return all;
}
