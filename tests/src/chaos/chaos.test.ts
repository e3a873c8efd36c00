import { ProbeServer } from '@probe/server';
import { sleep, waitFor } from '@probe/testkit';
import { afterAll, expect, it } from 'vitest';
import { envInt, inBatches, printSummary, printTable, spread } from '../figures.js';
import { seededRandom, testSeed } from '../random.js';
import {
  type FaultKind,
  type FaultOutcome,
  inject,
  LONGEST_FAULT_MS,
  pickFault,
} from './faults.js';
import { Lane } from './lane.js';

// Chaos at scale: many clients, each behind its own fault proxy, exchange numbered messages
// both ways while random faults hit random clients. Nothing may be lost, duplicated or
// reordered, per client and direction, and every client keeps its one session.
// `pnpm chaos` runs the long form (tests/scripts/chaos.mjs).
const CLIENTS = envInt('PROBE_CHAOS_CLIENTS', 200);
const DURATION_MS = envInt('PROBE_CHAOS_MS', 20_000);
/** A fault starts on some idle client this often. */
const FAULT_EVERY_MS = envInt('PROBE_CHAOS_FAULT_EVERY_MS', 25);
/** Each client sends one message each way per tick (20/s), plus now and then a burst. */
const TICK_MS = 50;
const BURST_PROBABILITY = 0.005;
const BURST = 50;
/** Generous: a resume normally takes milliseconds, but 2 cores run everything here. */
const RESUME_TIMEOUT_MS = 30_000;

const seed = testSeed();
const server = new ProbeServer({
  // Detection within ~1 s, so most blackholes (0.3–4 s) are noticed; sessions outlive them all.
  probeIntervalMs: 500,
  probeTimeoutMs: 500,
  sessionTtlMs: 60_000,
  authenticate: (auth) => auth,
});
const lanes: Lane[] = [];
afterAll(async () => {
  await Promise.all(lanes.map((lane) => lane.close()));
  await server.close();
});

it(
  `${CLIENTS} clients lose, duplicate and reorder nothing over ${DURATION_MS / 1000} s of random faults`,
  async () => {
    console.log(`chaos seed=${seed} (replay with PROBE_SEED=${seed})`);
    // Separate streams, so the faults drawn do not depend on how many ticks the traffic ran.
    const random = seededRandom(seed);
    const trafficRandom = seededRandom(seed ^ 0x5eed);
    const connectionErrors: string[] = [];
    server.on('connection-error', (info) => connectionErrors.push(`${info.code}: ${info.message}`));
    server.on('session', (session) => lanes[session.data as number]?.bind(session));
    const { port } = await server.listen(0, '127.0.0.1');

    await inBatches(CLIENTS, 50, async (i) => {
      const lane = await Lane.open(i, port, {
        reconnect: { initialDelayMs: 50, maxDelayMs: 500, connectTimeoutMs: 5_000 },
        random: seededRandom(Math.floor(random() * 2 ** 31) + 1),
      });
      lanes[i] = lane;
    });
    await waitFor(() => lanes.every((l) => l.client.state === 'open' && l.duplex.session), {
      timeoutMs: 30_000,
      message: 'every client open',
    });

    const started = performance.now();
    const trafficEnds = started + DURATION_MS;
    const traffic = (async () => {
      while (performance.now() < trafficEnds) {
        for (const lane of lanes) {
          lane.pump(1);
          if (trafficRandom() < BURST_PROBABILITY) lane.pump(BURST);
        }
        await sleep(TICK_MS);
      }
    })();

    // Faults start until the longest one would still end within the run.
    const outcomes: FaultOutcome[] = [];
    const running = new Set<Promise<void>>();
    const faultsEnd = trafficEnds - LONGEST_FAULT_MS - 500;
    while (performance.now() < faultsEnd) {
      await sleep(FAULT_EVERY_MS);
      const idle = lanes.filter((l) => !l.busy && l.client.state === 'open');
      const lane = idle[Math.floor(random() * idle.length)];
      if (!lane) continue;
      const kind: FaultKind = pickFault(random);
      const faultRandom = seededRandom(Math.floor(random() * 2 ** 31) + 1);
      lane.busy = true;
      const fault = inject(lane, kind, faultRandom, RESUME_TIMEOUT_MS).then((outcome) => {
        if (outcome) outcomes.push(outcome);
        if (outcome?.failure) lane.fail(`${kind}: ${outcome.failure}`);
        lane.busy = false;
        running.delete(fault);
      });
      running.add(fault);
    }
    await Promise.all(running);
    await traffic;
    const settled = await waitFor(
      // A closed client will not catch up; it is reported below rather than waited for.
      () =>
        lanes.every(
          (l) => l.client.state === 'closed' || (l.client.state === 'open' && l.duplex.complete),
        ),
      { timeoutMs: 30_000, intervalMs: 50, message: 'every stream complete' },
    ).catch(() => false);
    const durationMs = performance.now() - started;

    const totals = { up: 0, down: 0, lost: 0, duplicated: 0, reordered: 0 };
    const calls = { sent: 0, answered: 0, ranTwice: 0, notRun: 0, failed: 0 };
    const broken: string[] = [];
    for (const lane of lanes) {
      const up = lane.duplex.up.verdict();
      const down = lane.duplex.down.verdict();
      totals.up += up.sent;
      totals.down += down.sent;
      totals.lost += up.lost + down.lost;
      totals.duplicated += up.duplicated + down.duplicated;
      totals.reordered += up.reordered + down.reordered;
      const requests = [lane.duplex.upCalls, lane.duplex.downCalls];
      const callVerdicts = requests.map((r) => r.verdict());
      for (const v of callVerdicts) {
        for (const key of Object.keys(calls) as (keyof typeof calls)[]) calls[key] += v[key];
      }
      const exact = [up, down].every((v) => v.lost + v.duplicated + v.reordered === 0);
      const answered = callVerdicts.every(
        (v) => v.answered === v.sent && v.ranTwice + v.notRun + v.failed === 0,
      );
      if (!exact || !answered || lane.sessions !== 1 || lane.failures.length > 0) {
        broken.push(
          `client ${lane.index}: up ${JSON.stringify(up)} down ${JSON.stringify(down)} ` +
            `requests ${JSON.stringify(callVerdicts)} ${requests.flatMap((r) => r.failures).join('; ')} ` +
            `sessions ${lane.sessions} state ${lane.client.state} ${lane.failures.join('; ')}`,
        );
      }
    }
    const faults: Record<string, number> = {};
    for (const { kind, ending } of outcomes) {
      const name = ending ? `${kind}(${ending})` : kind;
      faults[name] = (faults[name] ?? 0) + 1;
    }
    const recoveredMs = outcomes.flatMap((o) =>
      o.recoveredMs === undefined ? [] : [o.recoveredMs],
    );
    const figures = {
      seed,
      clients: CLIENTS,
      durationS: Math.round(durationMs / 1000),
      faults: outcomes.length,
      faultsByKind: faults,
      resumes: lanes.reduce((n, l) => n + l.resumes, 0),
      messages: { up: totals.up, down: totals.down },
      requests: calls,
      lost: totals.lost,
      duplicated: totals.duplicated,
      reordered: totals.reordered,
      restoreToResumedMs: spread(recoveredMs),
      brokenClients: broken.length,
      connectionErrors: connectionErrors.length,
    };
    printTable(`chaos (seed ${seed})`, [
      ['clients', CLIENTS],
      ['duration', `${figures.durationS} s`],
      ...Object.entries(faults).map(([kind, n]) => [`faults: ${kind}`, n] as const),
      ['faults: total', outcomes.length],
      ['resumes', figures.resumes],
      ['messages client→server', totals.up],
      ['messages server→client', totals.down],
      ['requests, both ways', calls.sent],
      [
        'requests answered / handler run twice / not run / failed',
        `${calls.answered} / ${calls.ranTwice} / ${calls.notRun} / ${calls.failed}`,
      ],
      [
        'lost / duplicated / reordered',
        `${totals.lost} / ${totals.duplicated} / ${totals.reordered}`,
      ],
      [
        'restore → resumed (ms)',
        `median ${figures.restoreToResumedMs.median}, max ${figures.restoreToResumedMs.max}`,
      ],
      ['clients with a problem', broken.length],
    ]);
    printSummary('chaos', figures);

    const context = `seed ${seed}; replay with PROBE_SEED=${seed}`;
    expect(broken.slice(0, 10), context).toEqual([]);
    expect(settled, context).toBeTruthy();
    expect(totals, context).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(calls, context).toMatchObject({
      answered: calls.sent,
      ranTwice: 0,
      notRun: 0,
      failed: 0,
    });
    expect(calls.sent).toBeGreaterThan(0);
    expect(connectionErrors.slice(0, 10), context).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(0);
  },
  DURATION_MS + 180_000,
);
