import { FrameType, PROTOCOL_VERSION, type ResumeRequest } from '@probe/protocol';
import { RawClient, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { envInt } from '../figures.js';
import { Cluster, type ClusterOptions } from './cluster.js';

// Three Probe nodes sharing a real Redis behind a round-robin balancer, with clients sending
// numbered messages both ways while nodes are killed, frozen, redeployed and Redis restarts.
// After each fault: nothing lost, no unmarked duplicate, nothing reordered, no session lost.
// Needs redis-server and the packages built (`pnpm turbo run build`); see node.ts.
const CLIENTS = envInt('PROBE_CLUSTER_CLIENTS', 200);
const OPTIONS: ClusterOptions = {
  nodes: 3,
  clients: CLIENTS,
  ratePerSecond: 20,
  probeIntervalMs: 300,
  probeTimeoutMs: 300,
  sessionTtlMs: 30_000,
};
/** Traffic before the fault, and after every client is back. */
const STEADY_MS = 2_000;
/** Well past probe interval + timeout: every client of the frozen node gives up on it. */
const FREEZE_MS = 3 * (OPTIONS.probeIntervalMs + OPTIONS.probeTimeoutMs);
/** Time for every client to notice a dead node (the balancer passes its resets on at once). */
const DETECT_MS = 1_000;
/** Every bound below is generous: two cores run the nodes, Redis and the clients here. */
const RECOVER_MS = 30_000;
const SCENARIO_MS = 120_000;

let cluster: Cluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

/** Starts a cluster, runs traffic through `fault`, settles, and checks the figures. */
async function scenario(name: string, fault: (cluster: Cluster) => Promise<void>): Promise<void> {
  const running = await Cluster.start(OPTIONS);
  cluster = running;
  running.startTraffic();
  await sleep(STEADY_MS);
  await fault(running);
  await running.waitAllOpen(RECOVER_MS);
  await sleep(STEADY_MS);
  const settled = await running.settle(RECOVER_MS);
  const figures = running.figures(name);

  expect(settled.unsettled).toEqual([]);
  const exact = { lost: 0, unmarkedDuplicates: 0, reordered: 0 };
  expect(figures.up, 'client → server').toMatchObject(exact);
  expect(figures.down, 'server → client').toMatchObject(exact);
  expect(figures.sessionLost).toBe(0);
  expect(figures.firstProblems).toEqual([]);
  expect(figures.sessions.new).toBe(CLIENTS);
  expect(figures.up.sent).toBeGreaterThan(0);
}

describe(`cluster: 3 nodes, Redis, ${CLIENTS} clients at ${OPTIONS.ratePerSecond} msg/s each way`, () => {
  it(
    'kill -9 of a node, then a replacement',
    () =>
      scenario('kill-9', async (c) => {
        expect(await c.kill9(0)).toEqual({ code: null, signal: 'SIGKILL' });
        await sleep(DETECT_MS);
        await c.waitAllOpen(RECOVER_MS);
        await c.start(0);
      }),
    SCENARIO_MS,
  );

  it(
    'a node frozen (SIGSTOP) past probe interval + timeout, then thawed',
    () =>
      scenario('sigstop', async (c) => {
        c.stop(1);
        await sleep(FREEZE_MS);
        await c.waitAllOpen(RECOVER_MS);
        c.cont(1);
      }),
    SCENARIO_MS,
  );

  it(
    'rolling SIGTERM restart of every node, each replaced before the next',
    () =>
      scenario('rolling-restart', async (c) => {
        for (let i = 0; i < OPTIONS.nodes; i++) {
          expect(await c.terminate(i)).toEqual({ code: 0, signal: null });
          await c.start(i);
          await c.waitAllOpen(RECOVER_MS);
        }
      }),
    SCENARIO_MS,
  );

  it(
    'Redis SHUTDOWN and restart',
    () =>
      scenario('redis-restart', async (c) => {
        await c.redis.shutdown();
        c.step('redis shut down');
        await sleep(STEADY_MS);
        await c.redis.restart();
        c.step('redis restarted');
      }),
    SCENARIO_MS,
  );
});

/** What a raw client saw next, probes aside. */
type RawEvent =
  | { kind: 'welcome'; resumed: boolean }
  | { kind: 'goodbye'; code: number }
  | { kind: 'closed'; code: number }
  | { kind: 'message'; data: unknown }
  | { kind: 'quiet' };

/**
 * The next frame other than a probe (probes are answered, as a client must), or how the
 * connection ended, or `quiet` when nothing else came within `ms`.
 */
async function nextEvent(raw: RawClient, ms: number): Promise<RawEvent> {
  const deadline = performance.now() + ms;
  // Each pass takes one frame; the deadline and the count bound the loop.
  for (let i = 0; i < 1_000; i++) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    const frame = await raw.nextFrame(left).catch(() => null);
    if (frame === null) {
      if (raw.ws.readyState === raw.ws.OPEN) break;
      const { code } = await raw.waitForClose(1_000).catch(() => ({ code: -1 }));
      return { kind: 'closed', code };
    }
    if (frame.type === FrameType.PROBE) {
      raw.sendFrame({ type: FrameType.PROBE_ANSWER, id: frame.id, ack: null });
    } else if (frame.type === FrameType.WELCOME) {
      return { kind: 'welcome', resumed: frame.resumed };
    } else if (frame.type === FrameType.GOODBYE) {
      return { kind: 'goodbye', code: frame.code };
    } else if (frame.type === FrameType.MESSAGE) {
      return { kind: 'message', data: frame.data };
    }
  }
  return { kind: 'quiet' };
}

/** Events of one connection until it closes or `ms` pass (probes answered on the way). */
async function story(raw: RawClient, ms: number): Promise<RawEvent[]> {
  const events: RawEvent[] = [];
  const deadline = performance.now() + ms;
  for (let i = 0; i < 50 && performance.now() < deadline; i++) {
    const event = await nextEvent(raw, Math.max(1, deadline - performance.now()));
    if (event.kind === 'quiet') break;
    events.push(event);
    if (event.kind === 'closed') break;
  }
  return events;
}

describe('cluster: one session resumed on two nodes at once', () => {
  it('ends with exactly one of the two serving it', async () => {
    const running = await Cluster.start({ ...OPTIONS, clients: 0 });
    cluster = running;
    const url = (i: number) => `ws://127.0.0.1:${running.node(i).port}/`;

    const first = await RawClient.connect(url(0));
    first.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    const welcome = await first.nextFrame();
    if (welcome.type !== FrameType.WELCOME) throw new Error(`expected a welcome: ${welcome.type}`);
    first.terminate();
    await sleep(100);

    const resume: ResumeRequest = {
      sessionId: welcome.sessionId,
      token: welcome.token,
      lastSeq: 0,
      sentSeq: 0,
    };
    const pair = await Promise.all([RawClient.connect(url(1)), RawClient.connect(url(2))]);
    for (const raw of pair) {
      raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume });
    }
    // Each connection's story until things settle: welcomes, and how it ended, if it did.
    const stories = await Promise.all(pair.map((raw) => story(raw, 2_500)));
    console.log(`[cluster] ${JSON.stringify({ scenario: 'double-resume', stories })}`);

    // Exactly one ends up serving the session. The other was refused, or was welcomed and
    // then told that the session moved on (4005, retryable): never two at once.
    const serving = stories.flatMap((events, i) =>
      events.at(-1)?.kind === 'welcome' || events.at(-1)?.kind === 'quiet' ? [i] : [],
    );
    expect(serving).toHaveLength(1);
    const winner = serving[0]!;
    expect(stories[winner]!.some((e) => e.kind === 'welcome')).toBe(true);
    const loser = stories[1 - winner]!;
    expect(loser.some((e) => e.kind === 'goodbye' || e.kind === 'closed')).toBe(true);

    // The winner's session works: a message goes in, its echo comes back.
    const raw = pair[winner]!;
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: { c: 1_000, n: 1 } });
    expect(await nextEvent(raw, 5_000)).toEqual({
      kind: 'message',
      data: { echo: 1, redelivered: false },
    });
    await waitFor(() => running.deliveries.get(1_000), { message: 'delivery report' });
    expect(running.deliveries.get(1_000)?.map((d) => d.n)).toEqual([1]);
    for (const peer of pair) peer.terminate();
  }, 60_000);
});
