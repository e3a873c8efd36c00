// Probe benchmark runner: every system side by side, in one run, on one machine.
//   pnpm bench [--scenario echo,fanout,idle,detection,resume,bundle,redis-echo,resume-elsewhere,
//              redis-memory,kill-node,room-broadcast] [--repeat N] [--smoke] [--out FILE] [--no-build]
//              [--systems ws,socketio,socketio-recovery,probe,socketio-redis,probe-redis,
//              socketio-redis-pubsub,probe-redis-volatile]
//              [--connections N] [--probe-interval MS] [--probe-timeout MS] [--window MS]
//              [--client-procs N]   (idle scenario)
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchConfig, makeConfig } from './config.js';
import { distStamp, ensureBuilt, rebuiltSince } from './lib/build.js';
import { describeMachine, describeSource, fdLimit, redisVersion } from './lib/machine.js';
import { evaluateTargets, SHARED_RATIOS, table, targetTable } from './lib/report.js';
import type { Log, Row } from './lib/results.js';
import { runBundle } from './scenarios/bundle.js';
import { runDetection } from './scenarios/detection.js';
import { runEcho } from './scenarios/echo.js';
import { runFanout } from './scenarios/fanout.js';
import { runIdle } from './scenarios/idle.js';
import { runKillNode } from './scenarios/kill-node.js';
import { runRedisEcho } from './scenarios/redis-echo.js';
import { runRedisMemory } from './scenarios/redis-memory.js';
import { runResume } from './scenarios/resume.js';
import { runResumeElsewhere } from './scenarios/resume-elsewhere.js';
import { runRoomBroadcast } from './scenarios/room-broadcast.js';
import { SYSTEMS, type SystemName } from './systems/index.js';

type Scenario = (config: BenchConfig, systems: readonly SystemName[], log: Log) => Promise<Row[]>;

const SINGLE_NODE: readonly SystemName[] = ['ws', 'socketio', 'socketio-recovery', 'probe'];

/**
 * Scenario → how to run it and which systems take part (`smokeSystems`: in the smoke run, when
 * fewer). The last five run several nodes (or one node) on a Redis they start themselves.
 */
const SCENARIOS: Record<
  string,
  { run: Scenario; systems: readonly SystemName[]; smokeSystems?: readonly SystemName[] }
> = {
  echo: { run: runEcho, systems: SINGLE_NODE },
  fanout: { run: runFanout, systems: SINGLE_NODE },
  idle: { run: runIdle, systems: SINGLE_NODE },
  detection: { run: runDetection, systems: ['ws', 'socketio', 'probe'] },
  resume: { run: runResume, systems: ['socketio', 'socketio-recovery', 'probe'] },
  bundle: { run: (_c, _s, log) => runBundle(log), systems: ['socketio', 'probe'] },
  'redis-echo': { run: runRedisEcho, systems: ['ws', 'probe', 'probe-redis'] },
  'resume-elsewhere': { run: runResumeElsewhere, systems: ['probe-redis'] },
  'redis-memory': { run: runRedisMemory, systems: ['probe-redis'] },
  // Socket.IO's side of kill-node waits out its reconnection delay (1 s ±50 %): CI's smoke
  // run skips it.
  'kill-node': {
    run: runKillNode,
    systems: ['socketio-redis', 'probe-redis'],
    smokeSystems: ['probe-redis'],
  },
  'room-broadcast': {
    run: runRoomBroadcast,
    systems: ['socketio-redis-pubsub', 'socketio-redis', 'probe-redis', 'probe-redis-volatile'],
    smokeSystems: ['probe-redis', 'probe-redis-volatile'],
  },
};

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    systems: { type: 'string' },
    repeat: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    connections: { type: 'string' },
    'probe-interval': { type: 'string' },
    'probe-timeout': { type: 'string' },
    window: { type: 'string' },
    'client-procs': { type: 'string' },
  },
  // `pnpm --filter @probe/bench bench -- --scenario …` passes the `--` through.
  args: process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === '--')),
});

/** A positive integer flag, or undefined when absent. */
function intFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${name} must be a positive integer`);
  return value;
}

const log: Log = (line) => process.stderr.write(`${line}\n`);

const scenarioNames =
  values.scenario === 'all'
    ? Object.keys(SCENARIOS)
    : values.scenario.split(',').map((s) => s.trim());
for (const name of scenarioNames) {
  if (!SCENARIOS[name])
    throw new Error(`unknown scenario '${name}' (${Object.keys(SCENARIOS).join(', ')})`);
}
const systems = (values.systems ?? SYSTEMS.join(','))
  .split(',')
  .map((s) => s.trim()) as SystemName[];
for (const s of systems) {
  if (!SYSTEMS.includes(s)) throw new Error(`unknown system '${s}' (${SYSTEMS.join(', ')})`);
}
const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
if (repeat !== undefined && !(Number.isInteger(repeat) && repeat >= 1)) {
  throw new Error('--repeat must be a positive integer');
}
const config = makeConfig(values.smoke, repeat, {
  connections: intFlag('connections', values.connections),
  probeIntervalMs: intFlag('probe-interval', values['probe-interval']),
  probeTimeoutMs: intFlag('probe-timeout', values['probe-timeout']),
  windowMs: intFlag('window', values.window),
  clientProcs: intFlag('client-procs', values['client-procs']),
});
const complete = !values.smoke && values.scenario === 'all' && systems.length === SYSTEMS.length;
const out =
  values.out ??
  new URL(
    complete ? '../RESULTS.md' : `../.tmp/RESULTS-${values.smoke ? 'smoke' : 'partial'}.md`,
    import.meta.url,
  ).pathname;

// Hard stop: the whole run is bounded even if something inside hangs past its own timeouts.
const limitMs = values.smoke ? 240_000 : 90 * 60_000;
setTimeout(() => {
  log(`benchmark exceeded its ${limitMs / 1000} s limit; stopping`);
  process.exit(1);
}, limitMs).unref();

async function main(): Promise<void> {
  const started = performance.now();
  if (!values['no-build']) ensureBuilt(log);
  const builds = distStamp();
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
    // The smoke run's narrower list, unless --systems names the systems.
    const candidates =
      values.smoke && values.systems === undefined && scenario.smokeSystems
        ? scenario.smokeSystems
        : scenario.systems;
    const runFor = candidates.filter((s) => systems.includes(s));
    if (runFor.length === 0) continue;
    const t0 = performance.now();
    log(`\n== ${name} (${runFor.join(', ')})`);
    rows.push(...(await scenario.run(config, runFor, log)));
    log(`== ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    loads.push(`after ${name} ${loadavg()[0]!.toFixed(2)}`);
  }
  // Helper processes load the packages' dist/ when they start: a rebuild meanwhile mixes builds.
  const rebuilt = rebuiltSince(builds).map((name) => `@probe/${name}`);
  if (rebuilt.length > 0) {
    log(`warning: ${rebuilt.join(', ')} rebuilt during the run; figures mix two builds`);
  }
  const targets = evaluateTargets(rows, config);
  const singleRows = rows.filter((r) => r.group !== 'shared');
  const sharedRows = rows.filter((r) => r.group === 'shared');
  const results = [
    ...(singleRows.length > 0 ? [table(singleRows, systems)] : []),
    ...(sharedRows.length > 0
      ? [
          ...(singleRows.length > 0 ? ['', '### Several nodes sharing one Redis', ''] : []),
          table(sharedRows, systems, SHARED_RATIOS),
        ]
      : []),
  ].join('\n');
  const targetText = targetTable(targets);
  const args = process.argv
    .slice(2)
    .filter((arg, i) => !(i === 0 && arg === '--'))
    .join(' ');
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
    ...(rebuilt.length > 0
      ? [
          `- Warning: ${rebuilt.join(', ')} rebuilt (dist/ changed) during the run; helper processes started after that ran the new build.`,
        ]
      : []),
    '- Cells: median (min–max) over repeats (echo, fan-out, idle, and the scenarios with several nodes: one value per run) or over all trials (detection, resume).',
    "  Ratios divide Probe's median by the other system's median (Probe + Redis's, in the table of several nodes).",
    `- Versions: ws 8.23.0, socket.io / socket.io-client 4.8.4 (websocket transport only), Probe from this workspace's built packages${sharedRows.length > 0 ? `; ${redisVersion()}, @socket.io/redis-streams-adapter 0.3.1, @socket.io/redis-adapter 8.3.0 and ioredis 6.0.0 (Socket.IO), @probe/redis (ioredis 6.0.0)` : ''}.`,
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
    `- Idle: server in a child process (--expose-gc), ${c.idle.connections} clients in ${c.idle.clientProcs} client process(es), process i connecting from 127.0.0.(i + 2); heartbeat ${c.idle.heartbeat.intervalMs} ms interval / ${c.idle.heartbeat.timeoutMs} ms timeout on every system (Probe probeIntervalMs/probeTimeoutMs, Socket.IO pingInterval/pingTimeout, raw ws: one setInterval pinging every client and terminating those that missed the previous pong). Memory per connection = (after − before) ÷ N from process.memoryUsage() (rss, heapUsed, heapTotal, external, arrayBuffers), both after a full GC, measured after ${c.idle.settleMs} ms settling plus the ${c.idle.cpuMs / 1000} s window; CPU = process.cpuUsage() of the server over that window. Every client counts the heartbeats it receives in the window (ws 'ping', Socket.IO Manager 'ping', Probe PROBE frames) and the longest stretch without one; dropped = connections closed or never probed. Probe: then every client process is SIGKILLed (no goodbye: each session is suspended and held for its resume) and memory after a full GC gives the suspended session's cost.`,
    `- Detection: ${c.detection.trials} clients per repeat, each through its own testkit fault proxy, heartbeat ${hb}; each path is blackholed at a random phase; server time = Probe 'suspend' / Socket.IO 'disconnect' / ws 'close' (server child, wall clock) minus blackhole time; client time = Probe 'state' leaving 'open' / Socket.IO 'disconnect'. Raw ws clients have no heartbeat and never notice.`,
    `- Resume: ${c.resume.trials} clients per repeat, each behind its own fault proxy, sending {n} every ${c.resume.sendEveryMs} ms and receiving echoes; the path is blackholed and new connections refused for ${c.resume.outageMs} ms, then restored (old connection reset). "restored → first echo" includes each client's reconnect backoff at its defaults (Probe: full jitter from 250 ms doubling; Socket.IO: 1 s doubling ±50 %, max 5 s); "reconnect accepted → first echo" is the handshake, resume and replay. Lost = sent but never echoed.`,
    "- Bundle: esbuild, platform browser, format esm, minify, bundle, target es2020, then gzip level 9 (node:zlib). Entries: `export { io } from 'socket.io-client'` and `export { ProbeClient } from '@probe/client'`; own code = the same with dependencies external.",
    ...sharedMethod(c),
  ].join('\n');
}

/** How the scenarios with several nodes are run. */
function sharedMethod(c: BenchConfig): string[] {
  const k = c.killNode;
  const rb = c.roomBroadcast;
  const handover =
    c.handover.handoverTimeoutMs === undefined
      ? "Probe's defaults: handoverTimeoutMs 2000, RedisSessionStore heartbeatMs 1000 (a node counts as dead 3 s after its last heartbeat)"
      : `shortened for the smoke run: handoverTimeoutMs ${c.handover.handoverTimeoutMs}, RedisSessionStore heartbeatMs ${c.handover.nodeHeartbeatMs}`;
  return [
    "- Several nodes: every Redis is a fresh redis-server started by the scenario (testkit `startRedis`: `--save '' --appendonly yes --appendfsync always`, data in a temporary directory), killed at the end. Server nodes are child processes; the balancer is testkit's round-robin TCP balancer in the runner process. Probe + RedisSessionStore uses `new RedisSessionStore({ url })` and Probe's server defaults; " +
      `${handover}. Socket.IO + Redis uses \`@socket.io/redis-streams-adapter\` on an ioredis client (stream maxLen 1,000,000) with connection state recovery (maxDisconnectionDuration 120 s, skipMiddlewares).`,
    `- Echo with sessions in Redis: as Echo (64-byte object, window ${c.echo.window}), a fresh Redis per measurement; appendfsync ${c.redisEcho.appendfsync.join(' and ')} (everysec: \`--appendfsync everysec\` after testkit's defaults). Raw ws and Probe in memory are measured once per repeat and shown in every appendfsync row.`,
    `- Resume on another node: nodes A and B (child processes) on one Redis; ${c.resumeElsewhere.clients} Probe clients (default reconnect policy) connect through the balancer to A and make one round trip each; the balancer then sends new connections to B only, and A is closed with \`server.close()\` (deploy) or, in a separate round with fresh nodes and Redis, SIGKILLed. Per client: its 'disconnect' event → its 'open' with \`resumed: true\`, then one more round trip must succeed on B. "minus the reconnect delay" subtracts the backoff delays the client reported in its 'disconnect' events (full jitter, first retry 0–250 ms). p50/p99 are over the clients of one round; cells are median (min–max) over rounds.`,
    `- Redis memory: one node, ${c.redisMemory.sessions} idle Probe clients in a client process (20 warm-up sessions opened and closed first); \`INFO memory\` used_memory and used_memory_dataset before and ${c.redisMemory.settleMs} ms after they connected, divided by the number of sessions; MEMORY USAGE (SAMPLES 0) of one session hash.`,
    `- Room broadcast: ${rb.nodes} nodes on one Redis, ${rb.members} members of one room spread evenly over them (each node's members in a client process of their own, connected straight to it; Probe: \`await session.join(room)\` resolved on every member before the start). Every broadcast carries the machine's monotonic time (CLOCK_MONOTONIC) of its broadcast() call; encoded once per broadcast by each system. Probe + RedisSessionStore: \`server.broadcast(data, { room })\` (exactly once: stored in the room's Redis stream); volatile: \`{ room, volatile: true }\` (Redis pub/sub, at most once); Socket.IO: \`io.to(room).emit()\` with \`@socket.io/redis-adapter\` (pub/sub, no recovery) or with the Redis streams adapter and recovery (as in kill-node). Closed loop: in each round every node publishes ${rb.perNodeRound} broadcasts in one event-loop turn, and the next round starts when every member has them all (or nothing arrived for ${rb.stallMs} ms); ${rb.warmupMs} ms of rounds as warm-up, then ${rb.measureMs} ms measured: deliveries/s = deliveries received ÷ time from the first round's start to the last round's end, seen by the runner. Closed loop and each fixed rate start once every delivery so far arrived (or nothing did for ${rb.stallMs} ms). Fixed rates: ${rb.rates.join(' then ')} broadcasts/s over the whole cluster for ${rb.pacedMs} ms each, broadcast j due at start + j/rate and published by node j mod ${rb.nodes}; latency = receipt − timestamp, over every delivery of that phase (nearest-rank p50/p99). "Missing" = broadcasts × members − deliveries counted once nothing more arrived for ${rb.stallMs} ms (negative: more deliveries than that).`,
    `- Kill a node: ${k.nodes} nodes on one Redis; ${k.clients} clients connect one by one through the balancer (so ${k.clients / k.nodes} per node). Each client sends {n} every ${k.everyMs} ms (n counting per client); each node sends {o: node, n} every ${k.everyMs} ms to every client it serves (Probe: every session the application was told about, from its 'session' event to its 'close', open or suspended; Socket.IO: every connected socket; n counting per node and client). After ${k.leadMs} ms node 0 is SIGKILLed and removed from the balancer; traffic goes on for ${k.afterMs} ms, then stops; the run waits for the clients of the killed node to be back, then ${k.drainMs} ms. Every node logs each message its application received and each message it sent with a synchronous file write, so the killed node's log is complete up to its death. Client→server lost = sent by a client, in no node's log; delivered twice = in the logs more than once, unmarked when the later delivery's \`meta.redelivered\` is false (Socket.IO has no such mark). Server→client lost = in a node's log as sent, never received by the client; "sent in its last ${100} ms" counts those the killed node sent just before it died.`,
  ];
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    log(`benchmark failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
