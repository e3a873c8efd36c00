// Several nodes, 2: N clients hold sessions on node A (through a balancer), new connections
// are then sent to node B only, and A goes away: first by a deploy (`server.close()`, which
// hands the sessions over), then, in a round of its own, by SIGKILL. Per client: from the
// moment it noticed the loss to its 'open' with `resumed: true` on B.
import { ProbeClient } from '@probe/client';
import { createBalancer, type RedisServer, startRedis } from '@probe/testkit';
import type { BenchConfig } from '../config.js';
import { add, type Log, note, type Row, row } from '../lib/results.js';
import { startServerChild } from '../lib/server-child.js';
import { percentile } from '../lib/stats.js';
import { sleep, until, withTimeout } from '../lib/time.js';
import type { SystemName } from '../systems/index.js';

type Kind = 'deploy' | 'kill';

interface Tracked {
  client: ProbeClient;
  opened: Promise<void>;
  /** Echoes received. */
  echoes: number;
  /** Set once the balancer sends new connections to B: from then on, a loss is measured. */
  armed: boolean;
  downAt?: number;
  /** Reconnect delays (backoff) the client waited between the loss and the resume. */
  delays: number;
  /** Close codes of the connections lost between the loss and the resume (the first is the loss). */
  codes: number[];
  upAt?: number;
  resumed: boolean;
  lost: boolean;
}

interface RoundResult {
  /** Per resumed client: loss noticed → resumed open, ms. */
  total: number[];
  /** The same minus the reconnect delays the client chose (its backoff). */
  afterDelay: number[];
  notResumed: number;
  moved: number;
  /** Close codes of failed attempts before the resume (after the first loss), by code. */
  retries: Record<number, number>;
  /** Deploy: how long node A's `server.close()` took (IPC round trip included), ms. */
  closeMs: number;
}

function track(url: string, key: string): Tracked {
  const client = new ProbeClient(url, { auth: { key } });
  const t: Tracked = {
    client,
    opened: Promise.resolve(),
    echoes: 0,
    armed: false,
    delays: 0,
    codes: [],
    resumed: false,
    lost: false,
  };
  t.opened = new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('close', ({ reason }) => reject(new Error(`client closed: ${reason}`)));
  });
  t.opened.catch(() => {});
  client.on('error', () => {});
  client.on('message', () => {
    t.echoes++;
  });
  client.on('disconnect', ({ code, delayMs }) => {
    if (!t.armed || t.upAt !== undefined) return;
    t.downAt ??= performance.now();
    t.delays += delayMs;
    t.codes.push(code);
  });
  client.on('open', ({ resumed }) => {
    if (!t.armed || t.downAt === undefined || t.upAt !== undefined) return;
    t.upAt = performance.now();
    t.resumed = resumed;
  });
  client.on('session-lost', () => {
    t.lost = true;
  });
  return t;
}

async function round(
  kind: Kind,
  redis: RedisServer,
  config: BenchConfig,
  log: Log,
): Promise<RoundResult> {
  const { clients: n, concurrency, timeoutMs } = config.resumeElsewhere;
  const shared = { redisUrl: redis.url, ...config.handover };
  const [a, b] = await Promise.all(
    [0, 1].map(() =>
      startServerChild('probe-redis', `resume-elsewhere-${kind}`, undefined, { shared }),
    ),
  );
  let targets = [a!.port];
  const balancer = await createBalancer({ targets: () => targets });
  const tracked: Tracked[] = [];
  try {
    // Connect, a few at a time, and make one round trip each.
    for (let i = 0; i < n; i += concurrency) {
      const batch: Tracked[] = [];
      for (let j = i; j < Math.min(n, i + concurrency); j++) {
        const t = track(balancer.url('/'), `c${j}`);
        tracked.push(t);
        batch.push(t);
      }
      await withTimeout(Promise.all(batch.map((t) => t.opened)), 20_000, `${n} clients open`);
    }
    for (const t of tracked) t.client.send({ n: 1 });
    await until(() => tracked.every((t) => t.echoes >= 1), 20_000, 'first echoes', 20);
    const onA = balancer.stats().byTarget[a!.port] ?? 0;
    if (onA !== n) throw new Error(`${onA} of ${n} clients reached node A`);
    targets = [b!.port];
    for (const t of tracked) t.armed = true;
    let closeMs = Number.NaN;
    if (kind === 'deploy') {
      const started = performance.now();
      await a!.child.call('close', {}, 20_000);
      closeMs = performance.now() - started;
    } else {
      await a!.kill();
    }
    await until(
      () => tracked.every((t) => t.upAt !== undefined || t.lost),
      timeoutMs,
      `${n} clients to resume on node B after the ${kind}`,
      20,
    ).catch((error: unknown) =>
      log(
        `  ${(error as Error).message}: ${tracked.filter((t) => t.downAt !== undefined).length} noticed the loss, ${tracked.filter((t) => t.upAt !== undefined).length} opened again, ${tracked.filter((t) => t.lost).length} lost their session; balancer ${JSON.stringify(balancer.stats())}`,
      ),
    );
    // A message after the resume must still come back (the session works on B).
    for (const t of tracked) t.client.send({ n: 2 });
    await until(
      () => tracked.every((t) => t.echoes >= 2 || t.lost),
      10_000,
      'echoes on B',
      20,
    ).catch((error: unknown) => log(`  ${(error as Error).message}`));
    const { moved } = await b!.child.call<{ moved: number }>('sessions');
    const done = tracked.filter((t) => t.resumed && t.downAt !== undefined && t.upAt !== undefined);
    if (done.length === 0) throw new Error(`no session resumed on node B after the ${kind}`);
    const retries: Record<number, number> = {};
    for (const t of tracked)
      for (const code of t.codes.slice(1)) retries[code] = (retries[code] ?? 0) + 1;
    return {
      retries,
      total: done.map((t) => t.upAt! - t.downAt!),
      afterDelay: done.map((t) => t.upAt! - t.downAt! - t.delays),
      notResumed: n - done.length,
      moved,
      closeMs,
    };
  } finally {
    for (const t of tracked) t.client.close();
    await sleep(50);
    await balancer.close();
    await Promise.all([a!.stop(), b!.stop()]);
  }
}

export async function runResumeElsewhere(
  config: BenchConfig,
  _systems: readonly SystemName[],
  log: Log,
): Promise<Row[]> {
  const n = config.resumeElsewhere.clients;
  const rows: Row[] = [];
  const rowsOf = (kind: Kind) => {
    const title =
      kind === 'deploy'
        ? `Resume on another node, ${n} sessions: node A deployed (server.close())`
        : `Resume on another node, ${n} sessions: node A killed (SIGKILL)`;
    const make = (metric: string) => {
      const r = row(title, metric, false);
      r.group = 'shared';
      rows.push(r);
      return r;
    };
    return {
      close: kind === 'deploy' ? make("node A's server.close(), ms") : undefined,
      p50: make('loss noticed → resumed on node B, ms, p50 over clients'),
      p99: make('loss noticed → resumed on node B, ms, p99 over clients'),
      d50: make("the same minus the client's reconnect delay (backoff), ms, p50"),
      d99: make("the same minus the client's reconnect delay (backoff), ms, p99"),
    };
  };
  const byKind = { deploy: rowsOf('deploy'), kill: rowsOf('kill') };
  const system: SystemName = 'probe-redis';
  for (let rep = 0; rep < config.repeat; rep++) {
    for (const kind of ['deploy', 'kill'] as const) {
      const redis = await startRedis();
      try {
        const r = await round(kind, redis, config, log);
        const rs = byKind[kind];
        if (rs.close) add(rs.close, system, r.closeMs);
        add(rs.p50, system, percentile(r.total, 50));
        add(rs.p99, system, percentile(r.total, 99));
        add(rs.d50, system, percentile(r.afterDelay, 50));
        add(rs.d99, system, percentile(r.afterDelay, 99));
        if (r.notResumed > 0)
          note(rs.p50, system, `#${rep + 1}: ${r.notResumed} of ${n} did not resume`);
        const retried = Object.entries(r.retries);
        if (retried.length > 0) {
          note(
            rs.p50,
            system,
            `#${rep + 1}: attempts refused before the resume: ${retried.map(([code, count]) => `${count}× ${code}`).join(', ')}`,
          );
        }
        if (r.moved !== n)
          note(rs.p50, system, `#${rep + 1}: ${r.moved} of ${n} sessions moved to B`);
        log(
          `  resume-elsewhere #${rep + 1} ${kind}: p50 ${percentile(r.total, 50).toFixed(0)} ms, p99 ${percentile(r.total, 99).toFixed(0)} ms; minus backoff p50 ${percentile(r.afterDelay, 50).toFixed(0)} ms, p99 ${percentile(r.afterDelay, 99).toFixed(0)} ms; ${n - r.notResumed}/${n} resumed, ${r.moved} moved, refused attempts ${JSON.stringify(r.retries)}${kind === 'deploy' ? `; server.close() took ${r.closeMs.toFixed(0)} ms` : ''}`,
        );
      } finally {
        await redis.stop();
      }
    }
  }
  return rows;
}
