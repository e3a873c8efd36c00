import type { BenchConfig } from '../config.js';
import { SYSTEM_LABELS, SYSTEMS, type SystemName } from '../systems/index.js';
import type { Row } from './results.js';
import { type Summary, summarize } from './stats.js';

export function fmt(value: number, decimals = 0, exact = false): string {
  if (Number.isNaN(value)) return '—';
  if (!Number.isFinite(value)) return '∞';
  if (exact) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10_000) return `${(value / 1000).toFixed(1)}k`;
  return value.toFixed(decimals);
}

function cell(s: Summary, decimals: number, exact: boolean): string {
  if (s.n === 0) return '—';
  if (s.n === 1) return fmt(s.median, decimals, exact);
  return `${fmt(s.median, decimals, exact)} (${fmt(s.min, decimals, exact)}–${fmt(s.max, decimals, exact)})`;
}

function ratio(probe: Summary, other: Summary): string {
  if (probe.n === 0 || other.n === 0 || !Number.isFinite(probe.median) || other.median === 0) {
    return '—';
  }
  return `${(probe.median / other.median).toFixed(2)}×`;
}

export function median(r: Row | undefined, system: SystemName): number {
  return r ? summarize(r.samples[system] ?? []).median : Number.NaN;
}

/** A ratio column: the median of `over` divided by the median of `under`. */
export interface RatioColumn {
  label: string;
  over: SystemName;
  under: SystemName;
}

export const SINGLE_NODE_RATIOS: readonly RatioColumn[] = [
  { label: 'Probe ÷ raw ws', over: 'probe', under: 'ws' },
  { label: 'Probe ÷ Socket.IO', over: 'probe', under: 'socketio' },
];

export const SHARED_RATIOS: readonly RatioColumn[] = [
  { label: 'Probe + Redis ÷ Probe in memory', over: 'probe-redis', under: 'probe' },
  { label: 'Probe + Redis ÷ Socket.IO + Redis', over: 'probe-redis', under: 'socketio-redis' },
  {
    label: 'Probe + Redis ÷ Socket.IO + Redis adapter',
    over: 'probe-redis',
    under: 'socketio-redis-pubsub',
  },
  {
    label: 'Probe volatile ÷ Socket.IO + Redis adapter',
    over: 'probe-redis-volatile',
    under: 'socketio-redis-pubsub',
  },
];

/**
 * The markdown results table, with footnotes for notes: one column per system of `systems`
 * that has a sample in `rows`, then the ratio columns.
 */
export function table(
  rows: Row[],
  systems: readonly SystemName[],
  ratios: readonly RatioColumn[] = SINGLE_NODE_RATIOS,
): string {
  const shown = SYSTEMS.filter(
    (s) => systems.includes(s) && rows.some((r) => (r.samples[s]?.length ?? 0) > 0),
  );
  // A ratio column only when both of its systems took part.
  const ratioColumns = ratios.filter((q) => shown.includes(q.over) && shown.includes(q.under));
  const head = [
    'scenario',
    'metric',
    ...shown.map((s) => SYSTEM_LABELS[s]),
    ...ratioColumns.map((r) => r.label),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const footnotes: string[] = [];
  for (const r of rows) {
    const sums = Object.fromEntries(
      SYSTEMS.map((s) => [s, summarize(r.samples[s] ?? [])]),
    ) as Record<SystemName, Summary>;
    const cells = shown.map((s) => {
      let text = cell(sums[s], r.decimals ?? 0, r.exact ?? false);
      const n = r.notes?.[s];
      if (n) {
        footnotes.push(n);
        text += ` [${footnotes.length}]`;
      }
      return text;
    });
    lines.push(
      `| ${[r.scenario, r.metric, ...cells, ...ratioColumns.map((q) => ratio(sums[q.over], sums[q.under]))].join(' | ')} |`,
    );
  }
  if (footnotes.length > 0) {
    lines.push('', ...footnotes.map((n, i) => `[${i + 1}] ${n}`));
  }
  return lines.join('\n');
}

export interface TargetResult {
  name: string;
  measured: string;
  required: string;
  pass: boolean;
  margin: string;
}

/** The first row whose scenario and metric start so; shared-store rows only when `shared`. */
function find(
  rows: Row[],
  scenarioStart: string,
  metricStart: string,
  shared = false,
): Row | undefined {
  return rows.find(
    (r) =>
      (r.group === 'shared') === shared &&
      r.scenario.startsWith(scenarioStart) &&
      r.metric.startsWith(metricStart),
  );
}

function atLeastRatio(
  name: string,
  r: Row | undefined,
  other: SystemName,
  min: number,
  over: SystemName = 'probe',
): TargetResult | null {
  const p = median(r, over);
  const o = median(r, other);
  if (!Number.isFinite(p) || !Number.isFinite(o)) return null;
  const value = p / o;
  const pass = value >= min;
  const pct = ((value / min - 1) * 100).toFixed(0);
  return {
    name,
    measured: `${value.toFixed(2)}× (${fmt(p)} vs ${fmt(o)})`,
    required: `≥ ${min}×`,
    pass,
    margin: pass ? `${pct}% above` : `${-pct}% short`,
  };
}

function atMostRatio(
  name: string,
  r: Row | undefined,
  other: SystemName,
  max: number,
  decimals: number,
): TargetResult | null {
  const p = median(r, 'probe');
  const o = median(r, other);
  if (!Number.isFinite(p) || !Number.isFinite(o)) return null;
  const value = p / o;
  const pass = value <= max;
  const pct = ((value / max - 1) * 100).toFixed(0);
  return {
    name,
    measured: `${value.toFixed(2)}× (${fmt(p, decimals, decimals === 0)} vs ${fmt(o, decimals, decimals === 0)})`,
    required: `≤ ${max}×`,
    pass,
    margin: pass ? `${-pct}% under` : `${pct}% over`,
  };
}

/** The largest of Probe's per-repeat ratios in `r` must be at most `max`. */
function worstRatio(name: string, r: Row | undefined, max: number): TargetResult | null {
  const xs = r?.samples.probe ?? [];
  if (xs.length === 0) return null;
  const worst = Math.max(...xs);
  const pass = worst <= max;
  const pct = ((worst / max - 1) * 100).toFixed(0);
  return {
    name,
    measured: `${worst.toFixed(2)}× (repeats: ${xs.map((x) => x.toFixed(2)).join(', ')})`,
    required: `≤ ${max}×`,
    pass,
    margin: pass ? `${-pct}% under` : `${pct}% over`,
  };
}

function atMost(name: string, value: number, limit: number, unit: string): TargetResult | null {
  if (Number.isNaN(value)) return null;
  const pass = value <= limit;
  const diff = Math.abs(limit - value);
  return {
    name,
    measured: `${fmt(value, 0, true)} ${unit}`,
    required: `≤ ${fmt(limit, 0, true)} ${unit}`,
    pass,
    margin: Number.isFinite(value)
      ? `${fmt(diff, 0, true)} ${unit} ${pass ? 'to spare' : 'over'}`
      : 'never noticed',
  };
}

/** Evaluates the product targets against whatever scenarios ran. */
export function evaluateTargets(rows: Row[], config: BenchConfig): TargetResult[] {
  const { intervalMs, timeoutMs } = config.heartbeat;
  const bound = intervalMs + timeoutMs + 100;
  const maxOf = (r: Row | undefined) => {
    const xs = r?.samples.probe;
    return xs && xs.length > 0 ? Math.max(...xs) : Number.NaN;
  };
  const results = [
    atLeastRatio('Echo 64 B ≥ 0.85× raw ws', find(rows, 'Echo, 64', 'round'), 'ws', 0.85),
    atLeastRatio('Echo 4 KiB ≥ 0.85× raw ws', find(rows, 'Echo, 4', 'round'), 'ws', 0.85),
    atLeastRatio('Fan-out ≥ Socket.IO', find(rows, 'Fan-out', 'deliveries'), 'socketio', 1),
    atMostRatio(
      'Idle memory ≤ 0.5× Socket.IO (medians)',
      find(rows, 'Idle', 'server RSS'),
      'socketio',
      0.5,
      1,
    ),
    worstRatio(
      'Idle memory ≤ 0.5× Socket.IO in every repeat (worst repeat)',
      find(rows, 'Idle', 'Probe ÷ Socket.IO RSS'),
      0.5,
    ),
    atMostRatio(
      'Idle CPU ≤ 1.15× raw ws (medians)',
      find(rows, 'Idle', 'server CPU'),
      'ws',
      1.15,
      1,
    ),
    worstRatio(
      'Idle CPU ≤ 1.15× raw ws in every repeat (worst repeat)',
      find(rows, 'Idle', 'Probe ÷ raw ws server CPU'),
      1.15,
    ),
    atMost(
      `Detection, server side, worst trial ≤ ${intervalMs} + ${timeoutMs} + 100 ms`,
      maxOf(find(rows, 'Detection', 'server')),
      bound,
      'ms',
    ),
    atMost(
      `Detection, client side, worst trial ≤ ${intervalMs} + ${timeoutMs} + 100 ms`,
      maxOf(find(rows, 'Detection', 'client')),
      bound,
      'ms',
    ),
    atMostRatio(
      'Client bundle ≤ 1.3× socket.io-client',
      find(rows, 'Client bundle', 'bytes, with'),
      'socketio',
      1.3,
      0,
    ),
    atMost(
      "Probe's own client code ≤ 4 KB (4,096 B)",
      median(find(rows, 'Client bundle', 'bytes, the'), 'probe'),
      4096,
      'B',
    ),
    ...sharedTargets(rows),
  ];
  return results.filter((r): r is TargetResult => r !== null);
}

/** Below `limit` (strictly). */
function below(name: string, value: number, limit: number, unit: string): TargetResult | null {
  if (Number.isNaN(value)) return null;
  const pass = value < limit;
  return {
    name,
    measured: `${fmt(value, 0, true)} ${unit}`,
    required: `< ${fmt(limit, 0, true)} ${unit}`,
    pass,
    margin: `${fmt(Math.abs(limit - value), 0, true)} ${unit} ${pass ? 'to spare' : 'over'}`,
  };
}

/** Targets of the scenarios with several nodes sharing Redis. */
function sharedTargets(rows: Row[]): (TargetResult | null)[] {
  const killRows = rows.filter((r) => r.group === 'shared' && r.scenario.startsWith('Kill 1 of'));
  const failures = killRows
    .filter((r) => /^(client→server|server→client) (messages lost|delivered twice)/.test(r.metric))
    .flatMap((r) => r.samples['probe-redis'] ?? []);
  const worst = failures.length > 0 ? Math.max(...failures) : Number.NaN;
  const roomRate = rows.find(
    (r) =>
      r.group === 'shared' &&
      r.scenario.startsWith('Room broadcast') &&
      r.scenario.includes('closed loop') &&
      r.metric === 'deliveries/s',
  );
  const roomP99 = rows.filter(
    (r) =>
      r.group === 'shared' &&
      r.scenario.startsWith('Room broadcast') &&
      r.metric.endsWith('ms, p99'),
  );
  const loop =
    'closed loop: each node publishes a burst per round, next round once every member has it';
  return [
    atLeastRatio(
      `Room broadcast deliveries/s, Probe exactly-once ≥ 1.0× Socket.IO + Redis adapter (${loop})`,
      roomRate,
      'socketio-redis-pubsub',
      1,
      'probe-redis',
    ),
    atLeastRatio(
      `Room broadcast deliveries/s, Probe volatile ≥ 1.5× Socket.IO + Redis adapter (${loop})`,
      roomRate,
      'socketio-redis-pubsub',
      1.5,
      'probe-redis-volatile',
    ),
    ...roomP99.map((r) =>
      below(
        `Room broadcast, Probe exactly-once, broadcast() → receipt p99 on loopback, ${r.scenario.replace(/^.*, fixed rate/, 'fixed rate')} (median of runs)`,
        median(r, 'probe-redis'),
        100,
        'ms',
      ),
    ),
    atLeastRatio(
      'Echo with sessions in Redis (appendfsync always) ≥ 0.5× in memory',
      find(
        rows,
        'Echo, 64-byte JSON-like object, sessions in Redis (appendfsync always)',
        'round',
        true,
      ),
      'probe',
      0.5,
      'probe-redis',
    ),
    below(
      'Resume on another node after a deploy, p50 (median of runs)',
      median(
        rows.find(
          (r) =>
            r.group === 'shared' &&
            r.scenario.includes('deployed') &&
            r.metric.startsWith('loss noticed → resumed on node B, ms, p50'),
        ),
        'probe-redis',
      ),
      100,
      'ms',
    ),
    atMost(
      'Redis memory per idle session ≤ 2 KB (2,048 B), used_memory growth (median of runs)',
      median(find(rows, 'Redis memory', 'used_memory growth', true), 'probe-redis'),
      2048,
      'B',
    ),
    Number.isNaN(worst)
      ? null
      : {
          name: 'Kill a node: 0 lost, 0 unmarked duplicates, both ways (worst run)',
          measured: `${fmt(worst, 0, true)} in the worst count of the worst run`,
          required: '0',
          pass: worst === 0,
          margin: worst === 0 ? 'none lost or duplicated' : `${fmt(worst, 0, true)} over`,
        },
  ];
}

export function targetTable(targets: TargetResult[]): string {
  const lines = [
    '| target | measured (Probe) | required | result | margin |',
    '|---|---|---|---|---|',
  ];
  for (const t of targets) {
    lines.push(
      `| ${t.name} | ${t.measured} | ${t.required} | ${t.pass ? 'PASS' : 'FAIL'} | ${t.margin} |`,
    );
  }
  return lines.join('\n');
}
