// Scenario 3: N idle connections probed on a schedule; server memory and CPU per connection.
import type { BenchConfig } from '../config.js';
import { fdLimit } from '../lib/machine.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import type { SystemName } from '../systems/index.js';
import { type IdleResult, idleOnce } from './idle-once.js';

const KB = 1024;

/** Connections that closed, never opened, or got no heartbeat during the window. */
function dropped(result: IdleResult, config: BenchConfig): number {
  const { connections } = config.idle;
  const gone = connections - Math.min(result.before, result.kept);
  return Math.max(gone, result.probes.none, connections - result.probes.clients);
}

export async function runIdle(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { connections, clientProcs, cpuMs, heartbeat } = config.idle;
  const limit = fdLimit();
  if (connections + 200 > limit) {
    throw new Error(
      `idle: ${connections} connections need more than the ${limit} open files allowed; ` +
        'raise it (ulimit -n) or lower --connections',
    );
  }
  const { intervalMs, timeoutMs } = heartbeat;
  const title = `Idle, ${connections} connections, heartbeat ${intervalMs}/${timeoutMs} ms`;
  const rss = row(title, 'server RSS per connection, KB', false, 1);
  const heap = row(title, 'server JS heap after GC per connection, KB', false, 1);
  const heapTotal = row(title, 'V8 heap committed (heapTotal) per connection, KB', false, 1);
  const outside = row(title, 'RSS outside the V8 heap and external, per connection, KB', false, 1);
  const arrayBuffers = row(title, 'arrayBuffers per connection, bytes', false, 0);
  const external = row(title, 'external per connection, bytes', false, 0);
  const cpu = row(title, `server CPU over ${cpuMs / 1000} s, % of one core`, false, 1);
  const cpuVsWs = row(title, 'Probe ÷ raw ws server CPU, same repeat', false, 2);
  const rssVsSio = row(title, 'Probe ÷ Socket.IO RSS per connection, same repeat', false, 2);
  const beats = row(title, `heartbeats per connection in the window, fewest`, true, 0);
  const gap = row(title, 'longest a client went without a heartbeat, ms', false, 0);
  const drops = row(title, 'connections dropped or never probed', false, 0);
  const susRss = row(title, 'server RSS per suspended session (client gone), KB', false, 1);
  const susHeap = row(title, 'server JS heap per suspended session, KB', false, 1);
  for (let rep = 0; rep < config.repeat; rep++) {
    const byRep: Partial<Record<SystemName, IdleResult>> = {};
    for (const system of rotated(systems, rep)) {
      // A run that lost connections (an event-loop stall longer than the probe timeout, e.g.
      // from other load on the machine) measured fewer than N; it is run again, once at most.
      let result = await idleOnce(system, config, log);
      if (dropped(result, config) > 0) {
        log(
          `  idle #${rep + 1} ${system}: ${dropped(result, config)} dropped (${result.before} open ` +
            `before the window, ${result.kept} after, ${result.probes.none} never probed, lost ` +
            `${JSON.stringify(result.lost)}, server max loop delay ` +
            `${result.maxLoopDelayMs.toFixed(0)} ms); running it again`,
        );
        note(drops, system, `repeat ${rep + 1} run again after ${dropped(result, config)} dropped`);
        result = await idleOnce(system, config, log);
      }
      byRep[system] = result;
      const m = result.perConn;
      add(rss, system, m.rss / KB);
      add(heap, system, m.heapUsed / KB);
      add(heapTotal, system, m.heapTotal / KB);
      add(outside, system, (m.rss - m.heapTotal - m.external) / KB);
      add(arrayBuffers, system, m.arrayBuffers);
      add(external, system, m.external);
      add(cpu, system, result.cpuPercent);
      add(beats, system, result.probes.min);
      add(gap, system, result.probes.maxGapMs);
      add(drops, system, dropped(result, config));
      if (result.suspended) {
        add(susRss, system, result.suspended.perSession.rss / KB);
        add(susHeap, system, result.suspended.perSession.heapUsed / KB);
        if (result.suspended.sessions < connections) {
          note(susRss, system, `${result.suspended.sessions} of ${connections} suspended`);
        }
      }
      log(
        `  idle #${rep + 1} ${system}: ${(m.rss / KB).toFixed(1)} KB RSS/conn, ` +
          `${(m.heapUsed / KB).toFixed(1)} KB heap/conn (committed ${(m.heapTotal / KB).toFixed(1)}, ` +
          `new space ${(m.newSpace / KB).toFixed(2)}), arrayBuffers ${m.arrayBuffers.toFixed(0)} B, ` +
          `external ${m.external.toFixed(0)} B, anonymous ${(m.anonymous / KB).toFixed(1)} KB, ` +
          `${result.cpuPercent.toFixed(1)} % CPU, ${result.before}/${connections} open before ` +
          `and ${result.kept} after the window, heartbeats per client ${result.probes.min}–` +
          `${result.probes.max}, longest silence ${result.probes.maxGapMs.toFixed(0)} ms, ` +
          `server max loop delay ${result.maxLoopDelayMs.toFixed(0)} ms, lost ` +
          `${JSON.stringify(result.lost)} (${clientProcs} client procs)` +
          (result.suspended
            ? `; suspended: ${(result.suspended.perSession.rss / KB).toFixed(1)} KB RSS, ` +
              `${(result.suspended.perSession.heapUsed / KB).toFixed(1)} KB heap per session ` +
              `(${result.suspended.sessions} suspended)`
            : ''),
      );
    }
    const { probe, ws, socketio } = byRep;
    if (probe && ws) add(cpuVsWs, 'probe', probe.cpuPercent / ws.cpuPercent);
    if (probe && socketio) add(rssVsSio, 'probe', probe.perConn.rss / socketio.perConn.rss);
  }
  return [
    rss,
    heap,
    heapTotal,
    outside,
    arrayBuffers,
    external,
    cpu,
    cpuVsWs,
    rssVsSio,
    beats,
    gap,
    drops,
    susRss,
    susHeap,
  ].filter((r) => Object.keys(r.samples).length > 0);
}
