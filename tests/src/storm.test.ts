import { ProbeClient } from '@probe/client';
import { CloseCode } from '@probe/protocol';
import { ProbeServer, type Session } from '@probe/server';
import { once, waitFor } from '@probe/testkit';
import { afterAll, expect, it } from 'vitest';
import { envInt, inBatches, printSummary, printTable, spread } from './figures.js';
import { seededRandom, testSeed } from './random.js';

// A reconnect storm: every connection is dropped at once (a drain, close code 4000, sessions
// kept) and every client comes back on its own backoff. All must resume their own session.
const CLIENTS = envInt('PROBE_STORM_CLIENTS', 2_000);
const BATCH = 200;
const BUCKET_MS = 100;

const seed = testSeed();
const random = seededRandom(seed);
// Default probe settings and reconnect policy: the storm is what a real deployment would see.
const server = new ProbeServer<number, { storm: number }, { storm: number }>({
  sessionTtlMs: 120_000,
  authenticate: (auth) => auth as number,
});
const clients: ProbeClient<{ storm: number }, { storm: number }>[] = [];
afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});

it(`${CLIENTS} clients dropped at once all resume their sessions`, async () => {
  console.log(`reconnect storm seed=${seed} (replay with PROBE_SEED=${seed})`);
  const sessions: Session<number, { storm: number }, { storm: number }>[] = [];
  const resumedAt: number[] = [];
  const sessionCloses: string[] = [];
  const upReceived: number[][] = [];
  server.on('session', (session) => {
    sessions[session.data] = session;
    upReceived[session.data] = [];
    session.on('message', (m) => upReceived[session.data]!.push(m.storm));
    session.on('resume', () => resumedAt.push(performance.now()));
    session.on('close', (reason) => sessionCloses.push(reason));
  });
  const connectionErrors: string[] = [];
  server.on('connection-error', (info) => connectionErrors.push(info.code));
  const { port } = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${port}/`;

  const downReceived: number[][] = [];
  const lost: string[] = [];
  const disconnectCodes = new Map<number, number>();
  // When each client noticed the drop, and when its backoff scheduled the retry.
  const noticedAt: number[] = [];
  const retryAt: number[] = [];
  await inBatches(CLIENTS, BATCH, async (i) => {
    const client = new ProbeClient<{ storm: number }, { storm: number }>(url, {
      auth: i,
      random: seededRandom(Math.floor(random() * 2 ** 31) + 1),
    });
    clients[i] = client;
    downReceived[i] = [];
    client.on('message', (m) => downReceived[i]!.push(m.storm));
    client.on('session-lost', (info) => lost.push(`client ${i}: ${info.reason}`));
    client.on('disconnect', ({ code, delayMs }) => {
      disconnectCodes.set(code, (disconnectCodes.get(code) ?? 0) + 1);
      noticedAt.push(performance.now());
      retryAt.push(performance.now() + delayMs);
    });
    await once(client, 'open', 30_000);
  });
  expect(server.stats().sessions.open).toBe(CLIENTS);
  const sessionIds = clients.map((c) => c.sessionId);

  const droppedAt = performance.now();
  expect(server.dropConnections()).toBe(CLIENTS);
  // One message each way while the connections are gone: both are replayed on resume.
  for (let i = 0; i < CLIENTS; i++) {
    sessions[i]!.send({ storm: i });
    clients[i]!.send({ storm: i });
  }
  await waitFor(() => resumedAt.length >= CLIENTS, {
    timeoutMs: 60_000,
    intervalMs: 50,
    message: `all ${CLIENTS} sessions resumed (seed ${seed})`,
  });
  const allResumedMs = Math.max(...resumedAt) - droppedAt;
  await waitFor(
    () =>
      clients.every((c) => c.state === 'open') &&
      downReceived.every((r) => r.length === 1) &&
      upReceived.every((r) => r.length === 1),
    { timeoutMs: 10_000, intervalMs: 50, message: 'clients open and replays delivered' },
  );

  const resumes = histogram(resumedAt, droppedAt);
  const retries = histogram(retryAt, droppedAt);
  const figures = {
    seed,
    clients: CLIENTS,
    resumed: resumedAt.length,
    timeToAllResumedMs: Math.round(allResumedMs),
    resumeMs: spread(resumedAt.map((at) => at - droppedAt)),
    noticedMs: spread(noticedAt.map((at) => at - droppedAt)),
    peakRetriesScheduledPer100ms: retries.peakPerBucket,
    peakRetriesScheduledPerSecond: retries.peakPerSecond,
    peakResumesPer100ms: resumes.peakPerBucket,
    peakResumesPerSecond: resumes.peakPerSecond,
    disconnectCodes: Object.fromEntries(disconnectCodes),
    sessionsLost: lost.length,
    newSessions: sessions.filter(Boolean).length - CLIENTS,
    connectionErrors: connectionErrors.length,
  };
  printTable('reconnect storm', [
    ...Object.entries(figures),
    [`retries scheduled per ${BUCKET_MS} ms`, retries.buckets.join(' ')],
    [`resumes per ${BUCKET_MS} ms`, resumes.buckets.join(' ')],
  ]);
  printSummary('storm', figures);

  const context = `seed ${seed}`;
  expect(lost, context).toEqual([]);
  expect(sessionCloses, context).toEqual([]);
  expect(sessions.filter(Boolean), context).toHaveLength(CLIENTS);
  expect(resumedAt, context).toHaveLength(CLIENTS);
  expect(
    clients.map((c) => c.sessionId),
    context,
  ).toEqual(sessionIds);
  // Every client was told to come back (4000); a retry that failed under load may add more.
  expect(disconnectCodes.get(CloseCode.SERVER_SHUTDOWN), context).toBe(CLIENTS);
  expect(server.stats().sessions, context).toEqual({ open: CLIENTS, suspended: 0 });
  expect(downReceived.every((r, i) => r[0] === i)).toBe(true);
  expect(upReceived.every((r, i) => r[0] === i)).toBe(true);
  expect(connectionErrors, context).toEqual([]);
}, 180_000);

/** Counts per BUCKET_MS since `from`, with the busiest bucket and the busiest second. */
function histogram(times: readonly number[], from: number) {
  const buckets: number[] = [];
  for (const at of times) {
    const bucket = Math.max(0, Math.floor((at - from) / BUCKET_MS));
    buckets[bucket] = (buckets[bucket] ?? 0) + 1;
  }
  const counts = Array.from(buckets, (n) => n ?? 0);
  const perSecond = 1000 / BUCKET_MS;
  let peakPerSecond = 0;
  for (let start = 0; start < counts.length; start++) {
    const window = counts.slice(start, start + perSecond).reduce((a, b) => a + b, 0);
    peakPerSecond = Math.max(peakPerSecond, window);
  }
  return { buckets: counts, peakPerBucket: Math.max(0, ...counts), peakPerSecond };
}
