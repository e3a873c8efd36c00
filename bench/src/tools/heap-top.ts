// Summarises a V8 heap snapshot: self size and count per constructor / node name, so the
// objects each connection costs stand out (divide by the connection count).
//   node --import tsx src/tools/heap-top.ts FILE.heapsnapshot [--per N] [--top 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { per: { type: 'string', default: '1' }, top: { type: 'string', default: '30' } },
});
const per = Number(values.per);
for (const file of positionals) {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const agg = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const name =
      type === 'object' || type === 'closure'
        ? snap.strings[snap.nodes[i + nameAt]!]!
        : `(${type})`;
    const size = snap.nodes[i + sizeAt]!;
    total += size;
    const key = `${type === 'closure' ? 'closure ' : ''}${name}`.slice(0, 80);
    const entry = agg.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += size;
    agg.set(key, entry);
  }
  console.log(`\n${file}: ${(total / 1024 / 1024).toFixed(1)} MiB in heap; per unit ÷ ${per}`);
  console.log('| bytes per unit | count per unit | name |\n|---:|---:|---|');
  const rows = [...agg].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top));
  for (const [name, { count, bytes }] of rows) {
    console.log(
      `| ${(bytes / per).toFixed(0)} | ${(count / per).toFixed(2)} | ${name.replaceAll('|', '\\|')} |`,
    );
  }
}
