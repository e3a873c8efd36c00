import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, expect, it } from 'vitest';
import { type Harness, median, startHarness, waitForState } from './harness.js';
import { seededRandom, testSeed } from './random.js';
import { Duplex } from './streams.js';

const DURATION_MS = Number(process.env.PROBE_RANDOMIZED_MS ?? 30_000);
const RATE_MS = 10; // one message each way every 10 ms: 100 msg/s per direction

let h: Harness;
afterEach(async () => h?.close());

it(
  `loses, duplicates and reorders nothing over ${DURATION_MS / 1000} s of random faults`,
  async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    console.log(`randomized delivery test seed=${seed} (replay with PROBE_SEED=${seed})`);
    h = await startHarness();
    const client = h.client();
    const d = new Duplex(client);
    const [session] = await once<[import('@probe/server').Session]>(h.server, 'session', 5000);
    d.bind(session);
    await waitForState(client, 'open');

    let running = true;
    const pump = (async () => {
      const end = performance.now() + DURATION_MS;
      while (running && performance.now() < end) {
        d.pump(1);
        await sleep(RATE_MS);
      }
    })();

    const faults: Record<string, number> = {};
    // Time from the path being usable again to the session resumed. After a silent blackhole
    // that includes noticing it, so it is kept apart.
    const resumeMs: number[] = [];
    const blackholeToResumedMs: number[] = [];
    const deadline = performance.now() + DURATION_MS - 1500;
    while (performance.now() < deadline) {
      await sleep(1000 + random() * 1000);
      await waitForState(client, 'open', 10_000);
      const kind = (['reset', 'end', 'blackhole', 'outage'] as const)[Math.floor(random() * 4)]!;
      faults[kind] = (faults[kind] ?? 0) + 1;
      const conn = h.proxy.latest();
      if (!conn) continue;
      const reopened = once(client, 'open', 15_000);
      if (kind === 'reset') conn.reset();
      else if (kind === 'end') conn.end();
      else if (kind === 'blackhole') conn.blackhole();
      else {
        // A whole outage: the path is blackholed and reconnects are refused for 0.3–1.5 s.
        conn.blackhole();
        h.proxy.refuse(true);
        await sleep(300 + random() * 1200);
        h.proxy.refuse(false);
      }
      const restoredAt = performance.now();
      await reopened;
      (kind === 'blackhole' ? blackholeToResumedMs : resumeMs).push(performance.now() - restoredAt);
    }
    running = false;
    await pump;
    await waitForState(client, 'open', 10_000);
    await waitFor(() => d.complete, { timeoutMs: 10_000 }).catch(() => undefined);
    const up = d.up.verdict();
    const down = d.down.verdict();
    const summary = {
      seed,
      durationS: DURATION_MS / 1000,
      faults,
      up,
      down,
      restoredToResumedMs: {
        median: Math.round(median(resumeMs)),
        max: Math.round(Math.max(...resumeMs)),
      },
      blackholeToResumedMs: {
        median: Math.round(median(blackholeToResumedMs)),
        max: Math.round(Math.max(...blackholeToResumedMs)),
      },
    };
    console.log(`randomized delivery: ${JSON.stringify(summary)}`);
    expect(up, `seed ${seed}`).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(down, `seed ${seed}`).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(up.sent).toBeGreaterThan(DURATION_MS / RATE_MS / 3);
    expect(h.sessions).toHaveLength(1);
  },
  DURATION_MS + 60_000,
);
