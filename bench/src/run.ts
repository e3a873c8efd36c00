// Probe benchmark runner: every system side by side, in one run, on one machine.
//   pnpm bench [--scenario echo,fanout,idle,detection,resume,bundle] [--repeat N] [--smoke]
//              [--systems ws,socketio,socketio-recovery,probe] [--out FILE] [--no-build]
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchConfig, makeConfig } from './config.js';
import { ensureBuilt } from './lib/build.js';
import { describeMachine, describeSource, fdLimit } from './lib/machine.js';
import { evaluateTargets, table, targetTable } from './lib/report.js';
import type { Log, Row } from './lib/results.js';
import { runBundle } from './scenarios/bundle.js';
import { runDetection } from './scenarios/detection.js';
import { runEcho } from './scenarios/echo.js';
import { runFanout } from './scenarios/fanout.js';
import { runIdle } from './scenarios/idle.js';
import { runResume } from './scenarios/resume.js';
import { SYSTEMS, type SystemName } from './systems/index.js';

type Scenario = (config: BenchConfig, systems: readonly SystemName[], log: Log) => Promise<Row[]>;

/** Scenario → how to run it and which systems take part. */
const SCENARIOS: Record<string, { run: Scenario; systems: readonly SystemName[] }> = {
  echo: { run: runEcho, systems: SYSTEMS },
  fanout: { run: runFanout, systems: SYSTEMS },
  idle: { run: runIdle, systems: SYSTEMS },
  detection: { run: runDetection, systems: ['ws', 'socketio', 'probe'] },
  resume: { run: runResume, systems: ['socketio', 'socketio-recovery', 'probe'] },
  bundle: { run: (_c, _s, log) => runBundle(log), systems: ['socketio', 'probe'] },
};

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    systems: { type: 'string', default: SYSTEMS.join(',') },
    repeat: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
  },
});

const log: Log = (line) => process.stderr.write(`${line}\n`);

const scenarioNames =
  values.scenario === 'all'
    ? Object.keys(SCENARIOS)
    : values.scenario.split(',').map((s) => s.trim());
for (const name of scenarioNames) {
  if (!SCENARIOS[name])
    throw new Error(`unknown scenario '${name}' (${Object.keys(SCENARIOS).join(', ')})`);
}
const systems = values.systems.split(',').map((s) => s.trim()) as SystemName[];
for (const s of systems) {
  if (!SYSTEMS.includes(s)) throw new Error(`unknown system '${s}' (${SYSTEMS.join(', ')})`);
}
const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
if (repeat !== undefined && !(Number.isInteger(repeat) && repeat >= 1)) {
  throw new Error('--repeat must be a positive integer');
}
const config = makeConfig(values.smoke, repeat);
const complete = !values.smoke && values.scenario === 'all' && systems.length === SYSTEMS.length;
const out =
  values.out ??
  new URL(
    complete ? '../RESULTS.md' : `../.tmp/RESULTS-${values.smoke ? 'smoke' : 'partial'}.md`,
    import.meta.url,
  ).pathname;

// Hard stop: the whole run is bounded even if something inside hangs past its own timeouts.
const limitMs = values.smoke ? 150_000 : 90 * 60_000;
setTimeout(() => {
  log(`benchmark exceeded its ${limitMs / 1000} s limit; stopping`);
  process.exit(1);
}, limitMs).unref();

async function main(): Promise<void> {
  const started = performance.now();
  if (!values['no-build']) ensureBuilt(log);
  const machine = describeMachine();
  const source = describeSource();
  log(`machine: ${machine}; open files limit ${fdLimit()}`);
  log(
    `mode: ${values.smoke ? 'smoke' : 'full'}, repeat ${config.repeat}, scenarios ${scenarioNames.join(',')}`,
  );
  const rows: Row[] = [];
  const loads: string[] = [`start ${loadavg()[0]!.toFixed(2)}`];
  for (const name of scenarioNames) {
    const scenario = SCENARIOS[name]!;
    const runFor = scenario.systems.filter((s) => systems.includes(s));
    if (runFor.length === 0) continue;
    const t0 = performance.now();
    log(`\n== ${name} (${runFor.join(', ')})`);
    rows.push(...(await scenario.run(config, runFor, log)));
    log(`== ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    loads.push(`after ${name} ${loadavg()[0]!.toFixed(2)}`);
  }
  const targets = evaluateTargets(rows, config);
  const results = table(rows, systems);
  const targetText = targetTable(targets);
  const args = process.argv.slice(2).join(' ');
  const command = `pnpm bench${args ? ` ${args}` : ''}`;
  const seconds = ((performance.now() - started) / 1000).toFixed(0);
  const doc = [
    `# Probe benchmark results${values.smoke ? ' (smoke run: tiny sizes, not meaningful)' : ''}`,
    '',
    `- Machine: ${machine}`,
    `- Probe source: ${source}`,
    `- Command: \`${command}\` from the repository root (builds the packages, then runs \`pnpm --filter @probe/bench bench${args ? ` ${args}` : ''}\`)`,
    `- Date: ${new Date().toISOString()}; wall time ${seconds} s; ${config.repeat} repeat(s) per scenario, systems interleaved`,
    `- 1-minute load average (2 cores; this run alone adds about 1–2): ${loads.join(', ')}`,
    '- Cells: median (min–max) over repeats (echo, fan-out, idle) or over all trials (detection, resume).',
    "  Ratios divide Probe's median by the other system's median.",
    `- Versions: ws 8.23.0, socket.io / socket.io-client 4.8.4 (websocket transport only), Probe from this workspace's built packages.`,
    '',
    '## Results',
    '',
    results,
    '',
    '## Targets',
    '',
    targetText,
    '',
    '## Method',
    '',
    methodText(config),
    '',
  ].join('\n');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, doc);
  process.stdout.write(`\n${results}\n\n${targetText}\n\nwritten to ${out}\n`);
}

function methodText(c: BenchConfig): string {
  const hb = `${c.heartbeat.intervalMs} ms interval / ${c.heartbeat.timeoutMs} ms timeout`;
  return [
    `- Same application on every system: each connection joins one room and every message is echoed to its sender. Raw ws sends JSON text for objects (parsed and re-serialised by the server) and binary frames for bytes; Socket.IO emits one event; Probe uses session.send / client.send (msgpack, exactly-once with acks and replay buffers on).`,
    `- Echo: server in a child process, one client in the runner process; ${c.echo.window} messages in flight; ${c.echo.warmupMs} ms warm-up then ${c.echo.measureMs} ms measured. Each system's default heartbeat.`,
    `- Fan-out: server in a child process; ${c.fanout.clients} clients in ${c.fanout.clientProcs} client process(es); ${c.fanout.warmupMessages} warm-up broadcasts, then ${c.fanout.messages} broadcasts (${c.fanout.batch} per event-loop turn); rate = clients × broadcasts ÷ (last delivery − first broadcast), wall clocks of the two processes.`,
    `- Idle: server in a child process (--expose-gc), ${c.idle.connections} clients in ${c.idle.clientProcs} client process(es); heartbeat ${hb} on every system (Probe probeIntervalMs/probeTimeoutMs, Socket.IO pingInterval/pingTimeout, raw ws: one setInterval pinging every client and terminating those that missed the previous pong). RSS and heap per connection = (after − before) ÷ N, both after a full GC, measured after ${c.idle.settleMs} ms settling plus the ${c.idle.cpuMs / 1000} s CPU window; CPU = process.cpuUsage() of the server over that window.`,
    `- Detection: ${c.detection.trials} clients per repeat, each through its own testkit fault proxy, heartbeat ${hb}; each path is blackholed at a random phase; server time = Probe 'suspend' / Socket.IO 'disconnect' / ws 'close' (server child, wall clock) minus blackhole time; client time = Probe 'state' leaving 'open' / Socket.IO 'disconnect'. Raw ws clients have no heartbeat and never notice.`,
    `- Resume: ${c.resume.trials} clients per repeat, each behind its own fault proxy, sending {n} every ${c.resume.sendEveryMs} ms and receiving echoes; the path is blackholed and new connections refused for ${c.resume.outageMs} ms, then restored (old connection reset). "restored → first echo" includes each client's reconnect backoff at its defaults (Probe: full jitter from 250 ms doubling; Socket.IO: 1 s doubling ±50 %, max 5 s); "reconnect accepted → first echo" is the handshake, resume and replay. Lost = sent but never echoed.`,
    "- Bundle: esbuild, platform browser, format esm, minify, bundle, target es2020, then gzip level 9 (node:zlib). Entries: `export { io } from 'socket.io-client'` and `export { ProbeClient } from '@probe/client'`; own code = the same with dependencies external.",
  ].join('\n');
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    log(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
