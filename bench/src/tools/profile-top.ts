// Prints the functions with the most self time in V8 CPU profiles (node --cpu-prof), with
// dist locations mapped back to TypeScript sources through the build's source maps.
//   node --import tsx src/tools/profile-top.ts FILE.cpuprofile [FILE…] [--top 25]
//     [--filter packages/]   only functions whose location contains this
//     [--inclusive]          sort by total (inclusive) time instead of self time
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CallFrame, location } from '../lib/source-location.js';

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Time in this function and everything it called (each sample counted once). */
  totalMs: number;
}

export function selfTimes(profile: Profile): { total: number; rows: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const agg = new Map<string, SelfTime>();
  const keyOf = (frame: CallFrame) => {
    const name = frame.functionName || '(anonymous)';
    // Window profiles carry the source location resolved when they were taken.
    const where = frame.source ?? location(frame);
    const key = `${name}@${where}`;
    if (!agg.has(key)) agg.set(key, { name, where, ms: 0, totalMs: 0 });
    return key;
  };
  for (const [id, us] of selfUs) {
    agg.get(keyOf(byId.get(id)!.callFrame))!.ms += us / 1000;
    // Inclusive time: every distinct function on the sampled stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = keyOf(byId.get(cur)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      agg.get(key)!.totalMs += us / 1000;
    }
  }
  return {
    total: (profile.endTime - profile.startTime) / 1000,
    rows: [...agg.values()].sort((a, b) => b.ms - a.ms),
  };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      filter: { type: 'string' },
      inclusive: { type: 'boolean', default: false },
    },
  });
  for (const file of positionals) {
    const { total, rows } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
    const busy = rows.filter((r) => r.name !== '(idle)').reduce((sum, r) => sum + r.ms, 0);
    console.log(`\n${file}: ${total.toFixed(0)} ms profiled, ${busy.toFixed(0)} ms not idle`);
    console.log(
      '| self ms | % of busy | total ms | function | location |\n|---:|---:|---:|---|---|',
    );
    const shown = values.filter ? rows.filter((r) => r.where.includes(values.filter!)) : rows;
    if (values.inclusive) shown.sort((a, b) => b.totalMs - a.totalMs);
    const top = shown.filter((x) => x.name !== '(idle)' && x.name !== '(root)');
    for (const r of top.slice(0, Number(values.top))) {
      const pct = ((r.ms / busy) * 100).toFixed(1);
      console.log(
        `| ${r.ms.toFixed(1)} | ${pct} | ${r.totalMs.toFixed(0)} | ${r.name} | ${r.where} |`,
      );
    }
  }
}
