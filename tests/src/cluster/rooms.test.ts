import { sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { envInt } from '../figures.js';
import { seededRandom, testSeed } from '../random.js';
import {
  describeStates,
  RoomCluster,
  type RoomClusterOptions,
  type RoomMember,
} from './room-cluster.js';
import { membershipFigures, roomOrderFigures } from './room-ledger.js';
import { MemberProcess } from './room-processes.js';

// Rooms across three Probe nodes sharing a real Redis, behind a balancer, with real node
// processes and members on real sockets. Random live nodes broadcast numbered messages to a
// room while nodes are killed, redeployed and connections cut; then each member's messages are
// compared with the room's stream as Redis holds it (the room order): see room-ledger.ts for
// exactly what is promised and checked. Each scenario prints one `[cluster] {…}` line, also
// when it fails. Needs redis-server and the packages built (`pnpm turbo run build`).
const MEMBERS = envInt('PROBE_CLUSTER_ROOM_MEMBERS', 300);
/** Members of the join/leave and expiry scenarios. */
const FEW = Math.max(3, Math.ceil(MEMBERS / 3));
/** Broadcasts per second, each from a random live node. */
const RATE = 50;
/**
 * A node killed is noticed at once (the balancer passes the reset on), so the probes only
 * need to catch silent paths: slow enough here that a loaded machine does not look dead, as
 * is the store's deadline. Members acknowledge room messages in batches, as a busy client
 * would. A member that reconnects is sent to another node than the one it left (set
 * PROBE_CLUSTER_ROOM_ANY_NODE=1 to let the balancer send it anywhere, its old node included).
 */
const OPTIONS: RoomClusterOptions = {
  nodes: 3,
  probeIntervalMs: 2_000,
  probeTimeoutMs: 5_000,
  sessionTtlMs: 30_000,
  memberAckDelayMs: 250,
  operationTimeoutMs: 10_000,
  resumeElsewhere: process.env.PROBE_CLUSTER_ROOM_ANY_NODE !== '1',
};
/** Broadcasting between two faults. */
const STEADY_MS = 2_000;
/** Time for every member of a dead node to notice (the balancer passes resets on at once). */
const DETECT_MS = 1_000;
/** Every bound below is generous: two cores run the nodes, Redis and the members here. */
const RECOVER_MS = 30_000;
const SETTLE_MS = 45_000;
/** After settling, no member may have received anything for this long. */
const QUIET_MS = 500;
/** A join or leave not answered by then is sent again. */
const OP_TIMEOUT_MS = 10_000;

let cluster: RoomCluster | undefined;
let vanishing: MemberProcess | undefined;

afterEach(async () => {
  await vanishing?.kill().catch(() => {});
  vanishing = undefined;
  await cluster?.close();
  cluster = undefined;
});

/**
 * Runs the faults of a scenario; a failure is kept (and noted in the steps) so that the
 * figures are still printed, then thrown by {@link report}.
 */
async function faults(c: RoomCluster, body: () => Promise<void>): Promise<unknown> {
  try {
    await body();
    return undefined;
  } catch (error) {
    c.step(`failed: ${String(error).slice(0, 300)}`);
    return error;
  }
}

/**
 * Waits (at most `timeoutMs`) until `done()` holds, then until no member has received
 * anything for {@link QUIET_MS}. @returns whether `done()` held, and how long it all took.
 */
async function settle(
  c: RoomCluster,
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<{ settled: boolean; settleMs: number }> {
  const from = performance.now();
  const settled = await waitFor(done, { timeoutMs, intervalMs: 100 }).then(
    () => true,
    () => false,
  );
  const lastReceived = () => Math.max(0, ...c.members.map((m) => m.lastReceivedAt));
  await waitFor(() => performance.now() - lastReceived() >= QUIET_MS, {
    timeoutMs: 10 * QUIET_MS,
    intervalMs: 50,
  }).catch(() => {});
  c.step(settled ? 'settled' : 'not settled');
  return { settled, settleMs: Math.round(performance.now() - from) };
}

/** What every scenario reports about the members and nodes besides the room figures. */
function common(c: RoomCluster, list: readonly RoomMember[]) {
  const problems = list.flatMap((m) =>
    m.problems.filter((p) => !p.startsWith('session lost')).map((p) => `${m.index}: ${p}`),
  );
  const reasons: Record<string, number> = {};
  for (const m of list) {
    for (const [reason, n] of m.disconnectReasons) reasons[reason] = (reasons[reason] ?? 0) + n;
  }
  return {
    sessionLost: list.reduce((n, m) => n + m.sessionLost, 0),
    sessions: { ...c.sessions },
    disconnects: list.reduce((n, m) => n + m.disconnects, 0),
    disconnectReasons: reasons,
    resumes: list.reduce((n, m) => n + m.resumes, 0),
    /** Resumes as the nodes saw them: on the node that served the session, or one it moved to. */
    nodeResumes: { ...c.resumes },
    cuts: c.balancer.cuts,
    clientProblems: problems.length,
    firstProblems: problems.slice(0, 5),
    nodeErrors: c.nodeErrors.length,
    firstNodeErrors: c.nodeErrors.slice(0, 5),
  };
}

/**
 * Prints the figures as one `[cluster]` line, with the story of the first few members and
 * broadcasts the examples and problems name; throws `failure` if there was one.
 */
function report(
  c: RoomCluster,
  room: string,
  figures: Record<string, unknown> & { examples: string[]; firstProblems: string[] },
  failure: unknown,
): void {
  const members = [
    ...figures.examples.flatMap((text) => [...text.matchAll(/member (\d+)/g)].map((m) => m[1])),
    ...figures.firstProblems.map((text) => /^(\d+):/.exec(text)?.[1]),
  ]
    .filter((m) => m !== undefined)
    .map(Number)
    .filter((m, i, all) => all.indexOf(m) === i)
    .slice(0, 3);
  const broadcasts = figures.examples
    .flatMap((text) => [...text.matchAll(/b=(\d+)/g)].map((m) => Number(m[1])))
    .filter((b, i, all) => all.indexOf(b) === i)
    .slice(0, 5);
  const details = [
    ...members.map((m) => c.describeMember(m, room)),
    ...broadcasts.map((b) => c.describeBroadcast(b)),
  ];
  console.log(
    `[cluster] ${JSON.stringify({ ...figures, details, steps: c.steps, durationS: c.elapsedMs / 1000 })}`,
  );
  if (failure) throw failure;
}

/** Kills node `i` (SIGKILL) and starts its replacement, at once or once its members moved. */
async function killAndReplace(c: RoomCluster, i: number, wait: boolean): Promise<void> {
  expect(await c.kill9(i)).toEqual({ code: null, signal: 'SIGKILL' });
  if (wait) {
    await sleep(DETECT_MS);
    await c.waitOpen(c.members, RECOVER_MS);
  }
  await c.start(i);
}

describe(`rooms across 3 nodes: ${MEMBERS} members, ${RATE} broadcasts/s from random nodes`, () => {
  it('every member gets every room message exactly once, in the room order, through kill -9 and a deploy', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const c = await RoomCluster.start(OPTIONS);
    cluster = c;
    const list = await c.addMembers(MEMBERS);
    const joined = await Promise.all(list.map((m) => m.op('join', 'lobby', RECOVER_MS)));
    expect(joined.filter((ok) => !ok)).toHaveLength(0);
    c.step('every member joined');

    c.startPublishing('lobby', RATE, random);
    const failure = await faults(c, async () => {
      await sleep(STEADY_MS);
      // The replacement starts while the members of the dead node are still moving.
      await killAndReplace(c, 0, false);
      await c.waitOpen(list, RECOVER_MS);
      await sleep(STEADY_MS);
      // A deploy: the node hands its members over and exits 0.
      expect(await c.terminate(1)).toEqual({ code: 0, signal: null });
      await c.start(1);
      await c.waitOpen(list, RECOVER_MS);
      await sleep(STEADY_MS);
      // The replacement starts once the members of the dead node are elsewhere.
      await killAndReplace(c, 2, true);
      await sleep(STEADY_MS);
      await killAndReplace(c, Math.floor(random() * OPTIONS.nodes), false);
      await c.waitOpen(list, RECOVER_MS);
      await sleep(STEADY_MS);
    });
    await c.stopPublishing();

    // Settled: every member has as many messages as the stream has entries (a member whose
    // client closed for good is not waited for: it is reported as a problem).
    const { settled, settleMs } = failure
      ? { settled: false, settleMs: 0 }
      : await settle(
          c,
          async () => {
            const length = await c.streamLength('lobby');
            return alive(list).every(
              (m) => m.client.state === 'open' && m.receivedIn('lobby').length >= length,
            );
          },
          SETTLE_MS,
        );
    const stream = await c.readStream('lobby');
    const examples: string[] = [];
    const room = roomOrderFigures(
      stream,
      c.ledgerBroadcasts('lobby'),
      list.map((m) => m.receivedIn('lobby')),
      examples,
    );
    const deliveries = list.reduce((n, m) => n + m.receivedIn('lobby').length, 0);
    const figures = {
      scenario: 'room-order',
      seed,
      nodes: OPTIONS.nodes,
      ratePerSecond: RATE,
      publishingS: Math.round(c.publishingMs / 100) / 10,
      ...room,
      deliveries,
      ...common(c, list),
      settled,
      settleMs,
      examples,
    };
    report(c, 'lobby', figures, failure);

    expect(settled, `settled: ${describeStates(list)}`).toBe(true);
    expect(room).toMatchObject({
      missingFromStream: 0,
      unexpectedInStream: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      unknown: 0,
      membersOffRoomOrder: 0,
      uncertainSplit: 0,
    });
    expect(room.published).toBeGreaterThan(RATE * 5);
    expect(figures.sessionLost).toBe(0);
    expect(figures.firstProblems).toEqual([]);
    expect(figures.sessions.new).toBe(MEMBERS);
    expect(figures.sessions.moved).toBeGreaterThan(0);
  }, 150_000);

  it('join/leave races while nodes die and connections are cut: a member receives exactly what was published while it was in', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const c = await RoomCluster.start(OPTIONS);
    cluster = c;
    const list = await c.addMembers(FEW);

    let churning = true;
    const loops = list.map((m, i) => churn(m, 'churn', () => churning, seededRandom(seed + i + 1)));
    c.startPublishing('churn', RATE, random);
    const slot = () => Math.floor(random() * OPTIONS.nodes);
    const failure = await faults(c, async () => {
      await sleep(STEADY_MS);
      c.cut(0.3, random);
      await sleep(STEADY_MS);
      await killAndReplace(c, slot(), false);
      await sleep(STEADY_MS);
      c.cut(0.3, random);
      await sleep(STEADY_MS);
      const deployed = slot();
      expect(await c.terminate(deployed)).toEqual({ code: 0, signal: null });
      await c.start(deployed);
      await sleep(STEADY_MS);
      c.cut(0.5, random);
      await sleep(STEADY_MS / 2);
      await killAndReplace(c, slot(), false);
      await sleep(STEADY_MS);
    });
    churning = false;
    c.step('churn stopping');
    await Promise.all(loops);
    c.step('churn stopped');
    // A little more traffic for the members that ended in the room, then quiet.
    await sleep(STEADY_MS / 2);
    await c.stopPublishing();

    const compute = async (members = list, examples: string[] = []) => {
      const stream = await c.readStream('churn');
      const histories = members.map((m) => c.history(m, 'churn'));
      return membershipFigures(stream, c.ledgerBroadcasts('churn'), histories, examples);
    };
    // Settled: every member still in the room has everything published since it joined (a
    // member whose client closed for good is not waited for: it is reported as a problem).
    const { settled, settleMs } = failure
      ? { settled: false, settleMs: 0 }
      : await settle(
          c,
          async () =>
            alive(list).every((m) => m.client.state === 'open') &&
            (await compute(alive(list))).missedAtEnd === 0,
          SETTLE_MS,
        );
    const examples: string[] = [];
    const room = await compute(list, examples);
    const broadcasts = [...c.ledgerBroadcasts('churn').values()];
    const figures = {
      scenario: 'room-join-leave',
      seed,
      nodes: OPTIONS.nodes,
      ratePerSecond: RATE,
      published: broadcasts.filter((b) => b.stored !== undefined).length,
      uncertain: broadcasts.filter((b) => b.stored === undefined).length,
      ...room,
      joinsWithoutEffect: c.joinsWithoutEffect(),
      joinsFailed: c.joinsFailed().length,
      ...common(c, list),
      settled,
      settleMs,
      examples,
    };
    report(c, 'churn', figures, failure);

    expect(settled, `settled: ${describeStates(list)}`).toBe(true);
    expect(room).toMatchObject({
      duplicated: 0,
      outOfOrder: 0,
      unknown: 0,
      outsideMembership: 0,
      gaps: 0,
      missedAtEnd: 0,
      missedWhileConnected: 0,
    });
    expect(room.memberships).toBeGreaterThan(FEW);
    expect(room.received).toBeGreaterThan(0);
    expect(room.checkedWhileConnected).toBeGreaterThan(0);
    expect(figures.sessionLost).toBe(0);
    expect(figures.firstProblems).toEqual([]);
  }, 150_000);

  it('members that vanish: their sessions expire and Redis returns to its baseline key count', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    // Short TTLs so that everything expires within seconds: keys of a session live
    // sessionTtlMs × 1.5 + 3 heartbeats past its last write or refresh; an ended session
    // leaves a marker for endedTtlMs; a room's stream lives twice the key TTL past its last
    // broadcast.
    const options = {
      nodes: 3,
      probeIntervalMs: 500,
      probeTimeoutMs: 500,
      sessionTtlMs: 1_500,
      endedTtlMs: 1_000,
      heartbeatMs: 500,
    } satisfies RoomClusterOptions;
    const keyTtlMs = Math.ceil(options.sessionTtlMs * 1.5) + 3 * options.heartbeatMs;
    const c = await RoomCluster.start(options);
    cluster = c;
    const rooms = ['expiry-a', 'expiry-b'];
    const liveNodeKeys = () =>
      c.nodes.flatMap((node) => (node?.state === 'running' ? [`probe:node:${node.nodeId}`] : []));
    const baseline = (await c.redis.keys('*')).sort();
    expect(baseline).toEqual(liveNodeKeys().sort());
    c.step(`baseline: ${baseline.length} keys`);

    const url = c.balancer.url('/');
    const members = await MemberProcess.start({ url, count: FEW, firstIndex: 0, rooms });
    vanishing = members;
    c.step(`${members.members} members joined ${rooms.join(' and ')} in a process of their own`);
    c.startPublishing(rooms, 20, random);
    await sleep(STEADY_MS);
    await c.stopPublishing();
    const peak = await c.redis.keys('*');
    c.step(`${peak.length} keys while the members are there`);

    // The members vanish without closing anything, and so does one node with its members'
    // sessions: those on live nodes are suspended, expire after sessionTtlMs and are ended
    // (their hash and frame list deleted, an ended marker kept for endedTtlMs); those of the
    // dead node expire by their key TTL; the dead node's liveness key after three heartbeats;
    // the room streams once idle for twice the key TTL. A replacement node takes the slot.
    const lastBroadcast = performance.now();
    await Promise.all([members.kill(), c.kill9(0)]);
    c.step('members and node 0 killed');
    await c.start(0);
    const counts: number[] = [];
    const back = await waitFor(
      async () => {
        const keys = (await c.redis.keys('*')).sort();
        counts.push(keys.length);
        return keys.join() === liveNodeKeys().sort().join();
      },
      { timeoutMs: 2 * keyTtlMs + 20_000, intervalMs: 250 },
    ).then(
      () => true,
      () => false,
    );
    const left = await c.redis.keys('*');
    c.step(back ? 'back to the baseline' : `${left.length} keys left`);
    console.log(
      `[cluster] ${JSON.stringify({
        scenario: 'room-expiry',
        seed,
        nodes: options.nodes,
        members: members.members,
        rooms: rooms.length,
        baselineKeys: baseline.length,
        peakKeys: peak.length,
        peakKinds: kinds(peak),
        keysLeft: left.length,
        leftKinds: kinds(left),
        backAfterMs: Math.round(performance.now() - lastBroadcast),
        keyTtlMs,
        streamTtlMs: 2 * keyTtlMs,
        keyCountsEverySecond: counts.filter((_, i) => i % 4 === 0),
        nodeErrors: c.nodeErrors.length,
        firstNodeErrors: c.nodeErrors.slice(0, 5),
        steps: c.steps,
        durationS: c.elapsedMs / 1000,
      })}`,
    );

    expect(peak.length).toBeGreaterThan(baseline.length + FEW);
    expect(kinds(peak).stream).toBe(rooms.length);
    expect(back, `keys left: ${left.slice(0, 10).join(', ')}`).toBe(true);
    expect(left).toHaveLength(baseline.length);
  }, 120_000);
});

/** Members whose client has not closed for good. */
function alive(list: readonly RoomMember[]): RoomMember[] {
  return list.filter((m) => m.client.state !== 'closed');
}

/** Counts keys by kind: node, session, frames, ended, resumes, stream. */
function kinds(keys: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) {
    const kind = key.startsWith('probe:node:')
      ? 'node'
      : key.startsWith('probe:room:')
        ? 'stream'
        : key.endsWith(':q')
          ? 'frames'
          : key.endsWith(':end')
            ? 'ended'
            : key.endsWith(':r')
              ? 'resumes'
              : 'session';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * Sends `kind` and waits for the answer, sending it again (a few times) when none comes: the
 * node that got it may have died before acting on it.
 */
async function answeredOp(
  member: RoomMember,
  kind: 'join' | 'leave',
  room: string,
): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await member.op(kind, room, OP_TIMEOUT_MS)) return true;
    if (member.client.state === 'closed') return false;
  }
  return false;
}

/**
 * One member joining and leaving `room` until `going()` turns false: in the room for 0.2–3 s,
 * out for 0.1–0.8 s. It stops after its current operation, in or out of the room.
 */
async function churn(
  member: RoomMember,
  room: string,
  going: () => boolean,
  random: () => number,
): Promise<void> {
  for (let round = 0; round < 1_000 && going(); round++) {
    if (!(await answeredOp(member, 'join', room))) return;
    await sleep(200 + random() * 2_800);
    if (!going()) return;
    if (!(await answeredOp(member, 'leave', room))) return;
    await sleep(100 + random() * 700);
  }
}
