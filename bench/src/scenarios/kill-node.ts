// Several nodes, 4: three server nodes share Redis, clients reach them through a balancer and
// exchange numbered messages both ways; one node is SIGKILLed mid-run. Afterwards every
// node's event log (written synchronously, so the killed node's is complete up to its death)
// is compared with what each client sent and received: lost and duplicated messages, each way.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBalancer, startRedis } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { add, type Log, note, type Row, rotated, row } from '../lib/results.js';
import { type ServerChild, startServerChild } from '../lib/server-child.js';
import { percentile } from '../lib/stats.js';
import { epochNow, sleep, until, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

/** Sends of the killed node this close to its death may legitimately never have left it. */
const LAST_MS = 100;

interface ClientState {
  key: string;
  client: BenchClient;
  sent: number;
  /** `${node}:${n}` → times received. */
  got: Map<string, number>;
  /** Highest n received per node, for reordering. */
  highest: Map<string, number>;
  reordered: number;
  downAt?: number;
  upAt?: number;
  resumed: boolean;
  /** Connection losses after the client was back (each one a further reconnect). */
  bounces: number;
  /** send() threw (the client had stopped). */
  sendErrors: number;
  /** Why the client stopped for good, or why its session could not be resumed. */
  closed?: string;
  sessionLost?: string;
}

export interface KillResult {
  c2s: {
    sent: number;
    lost: number;
    unmarked: number;
    marked: number;
    reordered: number;
  };
  s2c: {
    sent: number;
    lost: number;
    /** Of `lost`: sent by the killed node within {@link LAST_MS} before the kill. */
    lostLast: number;
    duplicated: number;
    reordered: number;
    /** Received but not in any log (the node died between the send and its log line). */
    unlogged: number;
  };
  /** Clients that lost their connection when the node died. */
  affected: number;
  /** Clients that stopped for good or lost their session, with the reasons. */
  failures: string[];
  /** Connection losses after the clients were back, and how many clients had them. */
  bounces: { count: number; clients: number };
  sendErrors: number;
  /** Of those: the session carried on (Probe resumed / Socket.IO recovered). */
  carriedOn: number;
  /** Of those: connection lost → open again, ms. */
  downUpMs: number[];
  movedSessions: number;
}

interface LogLine {
  kind: string;
  key: string;
  n: number;
  flag: number;
  t: number;
}

function readLog(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    if (f[0] === 'r') {
      lines.push({ kind: 'r', key: f[1]!, n: Number(f[2]), flag: Number(f[3]), t: Number(f[4]) });
    } else if (f[0] === 's') {
      lines.push({ kind: 's', key: f[1]!, n: Number(f[2]), flag: 0, t: Number(f[3]) });
    }
  }
  return lines;
}

async function killOnce(system: SystemName, config: BenchConfig, log: Log): Promise<KillResult> {
  const { clients: n, nodes: count, everyMs, leadMs, afterMs, drainMs } = config.killNode;
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'probe-bench-kill-'));
  const nodes: ServerChild[] = [];
  const states: ClientState[] = [];
  const senders: NodeJS.Timeout[] = [];
  let balancer: Awaited<ReturnType<typeof createBalancer>> | undefined;
  try {
    const shared = { redisUrl: redis.url, ...config.handover };
    nodes.push(
      ...(await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startServerChild(system, 'kill-node', undefined, {
            shared,
            echo: false,
            logFile: join(dir, `node-${i}.log`),
          }),
        ),
      )),
    );
    const live = new Set(nodes.map((node) => node.port));
    balancer = await createBalancer({ targets: () => [...live] });
    const { connect } = await adapter(system);
    let killed = false;
    // One at a time, so the balancer's round robin spreads them evenly.
    for (let i = 0; i < n; i++) {
      const state: ClientState = {
        key: `k${i}`,
        client: undefined as unknown as BenchClient,
        sent: 0,
        got: new Map(),
        highest: new Map(),
        reordered: 0,
        resumed: false,
        bounces: 0,
        sendErrors: 0,
      };
      state.client = connect(
        balancer.url('/'),
        { key: state.key, reconnect: true },
        {
          onMessage: (data) => {
            const { o, n: m } = data as { o: string; n: number };
            const id = `${o}:${m}`;
            state.got.set(id, (state.got.get(id) ?? 0) + 1);
            const high = state.highest.get(o) ?? 0;
            if (m < high) state.reordered++;
            else state.highest.set(o, m);
          },
          onDown: () => {
            if (!killed) return;
            if (state.downAt === undefined) state.downAt = performance.now();
            else if (state.upAt !== undefined) state.bounces++;
          },
          onUp: (resumed) => {
            if (state.downAt !== undefined && state.upAt === undefined) {
              state.upAt = performance.now();
              state.resumed = resumed;
            }
          },
          onClosed: (reason) => {
            state.closed ??= reason;
          },
          onSessionLost: (reason, unconfirmed) => {
            state.sessionLost ??= `${reason} (${unconfirmed} unconfirmed)`;
          },
        },
      );
      states.push(state);
      await withTimeout(state.client.opened, 15_000, `${system} client ${i} open`);
    }
    const spread = Object.values(balancer.stats().byTarget);
    if (spread.length !== count)
      throw new Error(`clients reached ${spread.length} of ${count} nodes`);
    await Promise.all(
      nodes.map((node, i) => node.child.call('traffic', { everyMs, tag: String(i) })),
    );
    for (const state of states) {
      const start = setTimeout(() => {
        senders.push(
          setInterval(() => {
            try {
              state.client.send({ n: state.sent + 1 });
              state.sent++;
            } catch {
              state.sendErrors++;
            }
          }, everyMs),
        );
      }, Math.random() * everyMs);
      senders.push(start);
    }
    await sleep(leadMs);
    const victim = nodes[0]!;
    killed = true;
    live.delete(victim.port);
    const killAt = epochNow();
    await victim.kill();
    await sleep(afterMs);
    for (const timer of senders) clearInterval(timer);
    await Promise.all(nodes.slice(1).map((node) => node.child.call('stopTraffic')));
    await until(
      () =>
        states.every(
          (s) => s.downAt === undefined || s.upAt !== undefined || s.closed !== undefined,
        ),
      20_000,
      `${system}: clients of the killed node back`,
      20,
    ).catch((error: unknown) => log(`  ${(error as Error).message}`));
    await sleep(drainMs);
    if (!states.some((st) => st.downAt !== undefined)) {
      throw new Error(`${system}: killing node 0 disconnected no client`);
    }
    const moved = await Promise.all(
      nodes.slice(1).map((node) => node.child.call<{ moved: number }>('sessions')),
    );
    return count_(
      states,
      dir,
      count,
      killAt,
      moved.reduce((sum, m) => sum + m.moved, 0),
    );
  } finally {
    for (const timer of senders) clearInterval(timer);
    for (const state of states) state.client?.close();
    await sleep(50);
    await balancer?.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compares the nodes' logs with what the clients sent and received. */
function count_(
  states: ClientState[],
  dir: string,
  nodes: number,
  killAt: number,
  movedSessions: number,
): KillResult {
  const received = new Map<string, LogLine[]>();
  const sent: { node: string; line: LogLine }[] = [];
  for (let i = 0; i < nodes; i++) {
    for (const line of readLog(join(dir, `node-${i}.log`))) {
      if (line.kind === 'r') {
        const list = received.get(line.key) ?? [];
        list.push(line);
        received.set(line.key, list);
      } else {
        sent.push({ node: String(i), line });
      }
    }
  }
  const c2s = { sent: 0, lost: 0, unmarked: 0, marked: 0, reordered: 0 };
  for (const state of states) {
    c2s.sent += state.sent;
    const lines = (received.get(state.key) ?? []).sort((a, b) => a.t - b.t);
    const seen = new Set<number>();
    let highest = 0;
    for (const line of lines) {
      if (seen.has(line.n)) {
        if (line.flag === 1) c2s.marked++;
        else c2s.unmarked++;
        continue;
      }
      seen.add(line.n);
      if (line.n < highest) c2s.reordered++;
      highest = Math.max(highest, line.n);
    }
    for (let m = 1; m <= state.sent; m++) if (!seen.has(m)) c2s.lost++;
  }
  const byKey = new Map(states.map((s) => [s.key, s]));
  const s2c = { sent: sent.length, lost: 0, lostLast: 0, duplicated: 0, reordered: 0, unlogged: 0 };
  const logged = new Set<string>();
  for (const { node, line } of sent) {
    const id = `${node}:${line.n}`;
    logged.add(`${line.key}/${id}`);
    if (!byKey.get(line.key)?.got.has(id)) {
      s2c.lost++;
      if (node === '0' && line.t > killAt - LAST_MS) s2c.lostLast++;
    }
  }
  for (const state of states) {
    s2c.reordered += state.reordered;
    for (const [id, times] of state.got) {
      if (times > 1) s2c.duplicated += times - 1;
      if (!logged.has(`${state.key}/${id}`)) s2c.unlogged++;
    }
  }
  const affected = states.filter((s) => s.downAt !== undefined);
  const failures = states.flatMap((s) => [
    ...(s.closed ? [`${s.key} closed: ${s.closed}`] : []),
    ...(s.sessionLost ? [`${s.key} session lost: ${s.sessionLost}`] : []),
  ]);
  return {
    c2s,
    s2c,
    affected: affected.length,
    failures,
    bounces: {
      count: states.reduce((sum, s) => sum + s.bounces, 0),
      clients: states.filter((s) => s.bounces > 0).length,
    },
    sendErrors: states.reduce((sum, s) => sum + s.sendErrors, 0),
    carriedOn: affected.filter((s) => s.resumed).length,
    downUpMs: affected.filter((s) => s.upAt !== undefined).map((s) => s.upAt! - s.downAt!),
    movedSessions,
  };
}

export async function runKillNode(
  config: BenchConfig,
  systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const { clients, nodes, everyMs } = config.killNode;
  const title = `Kill 1 of ${nodes} nodes (SIGKILL) under load: ${clients} clients via a balancer, ${1000 / everyMs} msg/s each way per client`;
  const rows: Row[] = [];
  const make = (metric: string, decimals = 0) => {
    const r = row(title, metric, false, decimals);
    r.group = 'shared';
    rows.push(r);
    return r;
  };
  const c2sLost = make('client→server messages lost, per run');
  const c2sDup = make('client→server delivered twice, unmarked, per run');
  const c2sMarked = make('client→server delivered again marked `redelivered`, per run');
  const s2cLost = make('server→client messages lost, per run');
  const s2cDup = make('server→client delivered twice, per run');
  const carried = make('clients of the killed node whose session carried on, % of them');
  const back = make('clients of the killed node: connection lost → open again, ms, p50');
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const system of rotated(systems, rep)) {
      const r = await killOnce(system, config, log);
      add(c2sLost, system, r.c2s.lost);
      add(c2sDup, system, r.c2s.unmarked);
      if (system === 'probe-redis') add(c2sMarked, system, r.c2s.marked);
      add(s2cLost, system, r.s2c.lost);
      add(s2cDup, system, r.s2c.duplicated);
      add(carried, system, r.affected === 0 ? Number.NaN : (100 * r.carriedOn) / r.affected);
      add(back, system, percentile(r.downUpMs, 50));
      const tag = `#${rep + 1}`;
      note(c2sLost, system, `${tag}: of ${r.c2s.sent} sent`);
      note(
        s2cLost,
        system,
        `${tag}: of ${r.s2c.sent} sent${r.s2c.lostLast > 0 ? `, ${r.s2c.lostLast} of them sent by the killed node in its last ${LAST_MS} ms` : ''}`,
      );
      if (r.c2s.reordered > 0) note(c2sDup, system, `${tag}: ${r.c2s.reordered} out of order`);
      if (r.s2c.reordered > 0) note(s2cDup, system, `${tag}: ${r.s2c.reordered} out of order`);
      if (r.failures.length > 0) {
        note(
          carried,
          system,
          `${tag}: ${r.failures.length} clients failed (${r.failures.slice(0, 3).join('; ')}${r.failures.length > 3 ? '; …' : ''})`,
        );
        log(`  kill-node ${system} failures: ${r.failures.join('; ')}`);
      }
      if (r.bounces.count > 0) {
        note(
          back,
          system,
          `${tag}: ${r.bounces.clients} clients lost their connection again after coming back (${r.bounces.count} times)`,
        );
      }
      if (r.sendErrors > 0)
        note(c2sLost, system, `${tag}: ${r.sendErrors} sends refused (client stopped)`);
      if (r.s2c.unlogged > 0)
        note(s2cLost, system, `${tag}: ${r.s2c.unlogged} received but never logged as sent`);
      log(
        `  kill-node #${rep + 1} ${system}: c→s lost ${r.c2s.lost}/${r.c2s.sent}, dup ${r.c2s.unmarked} (+${r.c2s.marked} marked), reord ${r.c2s.reordered}; s→c lost ${r.s2c.lost}/${r.s2c.sent} (${r.s2c.lostLast} in the last ${LAST_MS} ms), dup ${r.s2c.duplicated}, reord ${r.s2c.reordered}, unlogged ${r.s2c.unlogged}; ${r.carriedOn}/${r.affected} carried on, back p50 ${percentile(r.downUpMs, 50).toFixed(0)} ms, ${r.bounces.count} further disconnects, ${r.movedSessions} moved`,
      );
    }
  }
  return rows;
}
