// Scenario 5: an outage (blackhole + refused reconnects), then the path comes back; how long
// until application traffic flows again, and what was lost or duplicated on the way.
import { createFaultProxy, type FaultProxy } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { sleep, until, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

interface TrialResult {
  /** Path restored → first echo received. */
  flowMs: number;
  /** New connection accepted by the proxy → first echo received. */
  handshakeMs: number;
  sent: number;
  lost: number;
  duplicates: number;
  reordered: number;
  resumed: boolean;
}

/** Upper bound on messages one trial sends (the sender stops by itself). */
const MAX_SENDS = 5_000;

async function trial(
  system: SystemName,
  url: string,
  proxy: FaultProxy,
  key: string,
  config: BenchConfig,
): Promise<TrialResult> {
  const { outageMs, sendEveryMs, leadMs, tailMs, drainMs } = config.resume;
  const seen = new Uint16Array(MAX_SENDS + 1);
  let highest = 0;
  let duplicates = 0;
  let reordered = 0;
  let restoredAt: number | undefined;
  let flowingAt: number | undefined;
  let resumed = false;
  let client: BenchClient | undefined;
  let sender: NodeJS.Timeout | undefined;
  try {
    client = (await adapter(system)).connect(
      url,
      { key, reconnect: true },
      {
        onMessage: (data) => {
          const n = (data as { n: number }).n;
          if (restoredAt !== undefined && flowingAt === undefined) flowingAt = performance.now();
          if (seen[n]! > 0) duplicates++;
          else if (n < highest) reordered++;
          seen[n] = seen[n]! + 1;
          highest = Math.max(highest, n);
        },
        onUp: (wasResumed) => {
          resumed = wasResumed;
        },
      },
    );
    await withTimeout(client.opened, 10_000, `${system} resume client open`);
    let sent = 0;
    sender = setInterval(() => {
      if (sent >= MAX_SENDS) return;
      sent++;
      client!.send({ n: sent });
    }, sendEveryMs);
    await sleep(leadMs + Math.random() * config.heartbeat.intervalMs);
    const link = proxy.latest();
    if (!link) throw new Error(`${system}: no proxied connection`);
    proxy.refuse(true);
    link.blackhole();
    await sleep(outageMs);
    const accepted = proxy.waitForConnection(20_000);
    accepted.catch(() => {});
    proxy.refuse(false);
    link.reset();
    restoredAt = performance.now();
    let acceptedAt = Number.NaN;
    void accepted.then(() => {
      acceptedAt = performance.now();
    });
    await until(() => flowingAt !== undefined, 20_000, `${system}: traffic after restore`, 2).catch(
      () => {},
    );
    await sleep(tailMs);
    clearInterval(sender);
    sender = undefined;
    await sleep(drainMs);
    let lost = 0;
    for (let n = 1; n <= sent; n++) if (seen[n] === 0) lost++;
    return {
      flowMs: flowingAt === undefined ? Number.POSITIVE_INFINITY : flowingAt - restoredAt,
      handshakeMs: flowingAt === undefined ? Number.POSITIVE_INFINITY : flowingAt - acceptedAt,
      sent,
      lost,
      duplicates,
      reordered,
      resumed,
    };
  } finally {
    if (sender) clearInterval(sender);
    client?.close();
  }
}

async function resumeOnce(system: SystemName, config: BenchConfig): Promise<TrialResult[]> {
  const server = await startServerChild(system, 'resume', config.heartbeat);
  const proxies: FaultProxy[] = [];
  try {
    for (let i = 0; i < config.resume.trials; i++) {
      proxies.push(await createFaultProxy({ targetPort: server.port }));
    }
    return await Promise.all(
      proxies.map((proxy, i) => trial(system, proxy.url(), proxy, `r${i}`, config)),
    );
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    await server.stop();
  }
}

export async function runResume(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { outageMs, sendEveryMs } = config.resume;
  const title = `Resume after a ${outageMs / 1000} s outage (blackhole, reconnects refused), echo every ${sendEveryMs} ms`;
  const flow = row(title, 'path restored → first echo, ms (all trials)', false);
  const handshake = row(title, 'reconnect accepted → first echo, ms (all trials)', false, 1);
  const lost = row(title, 'messages lost per trial (sent, never echoed)', false);
  const dups = row(title, 'echoes duplicated or out of order, per trial', false);
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      const results = await resumeOnce(system, config);
      for (const r of results) {
        add(flow, system, r.flowMs);
        add(handshake, system, r.handshakeMs);
        add(lost, system, r.lost);
        add(dups, system, r.duplicates + r.reordered);
        if (r.reordered > 0) note(dups, system, `${r.reordered} out of order`);
      }
      const notResumed = results.filter((r) => !r.resumed).length;
      if (notResumed > 0 && system !== 'socketio') {
        note(flow, system, `${notResumed} trials did not resume the session`);
      }
      log(
        `  resume #${rep + 1} ${system}: ${results
          .map(
            (r) =>
              `${Math.round(r.flowMs)} ms (+${Math.round(r.handshakeMs)}) lost ${r.lost}/${r.sent} dup ${r.duplicates} reord ${r.reordered}${r.resumed ? ' resumed' : ''}`,
          )
          .join('; ')}`,
      );
    }
  }
  return [flow, handshake, lost, dups];
}
