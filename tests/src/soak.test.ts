import { ProbeClient } from '@probe/client';
import { decode, encode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { ProbeServer, type ServerStats } from '@probe/server';
import { waitFor } from '@probe/testkit';
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  envInt,
  exposedGc,
  inBatches,
  openFds,
  printSummary,
  printTable,
  settledHeapUsed,
} from './figures.js';

// Many short-lived sessions must leave nothing behind: no connection, session, scheduled wheel
// item or native timer, no file descriptor, and no heap that a collection cannot reclaim.
const CYCLES = envInt('PROBE_SOAK_CYCLES', 20_000);
const EXPIRING = envInt('PROBE_SOAK_EXPIRING', 1_000);
const BATCH = 200;
const WARMUP = 1_000;
const SESSION_TTL_MS = 1_000;
const HEAP_BOUND = 10 * 1024 * 1024;
const FD_SLACK = 20;

const server = new ProbeServer({
  probeIntervalMs: 2_000,
  probeTimeoutMs: 2_000,
  sessionTtlMs: SESSION_TTL_MS,
});
const connectionErrors: string[] = [];
server.on('connection-error', (info) => connectionErrors.push(info.code));
/** How the sessions ended: 'client-closed' for the cycles, 'expired' for the abandoned ones. */
const ended: Record<string, number> = {};
server.on('session', (session) => {
  session.on('close', (reason) => {
    ended[reason] = (ended[reason] ?? 0) + 1;
  });
});
afterAll(() => server.close());

/** A client that opens a session and ends it at once with `client.close()`. */
function cycle(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new ProbeClient(url, { reconnect: { maxAttempts: 0 } });
    client.once('open', () => client.close());
    client.once('close', ({ code, reason }) => {
      if (code === 1000) resolve();
      else reject(new Error(`cycle ended with ${code} ${reason}`));
    });
  });
}

/** A session whose client vanishes without a goodbye: it is suspended, then expires. */
function abandon(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('error', reject);
    ws.on('open', () =>
      ws.send(
        encode({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null }),
      ),
    );
    ws.on('message', (data: Buffer) => {
      if (decode(data).type !== FrameType.WELCOME) return;
      ws.terminate();
      resolve();
    });
  });
}

const IDLE: ServerStats['sessions'] & { connections: number; scheduled: number; timers: number } = {
  connections: 0,
  open: 0,
  suspended: 0,
  scheduled: 0,
  timers: 0,
};

function resources() {
  const { connections, sessions, scheduler } = server.stats();
  return { connections, ...sessions, scheduled: scheduler.scheduled, timers: scheduler.timers };
}

it(`${CYCLES} connect/close cycles and ${EXPIRING} expired sessions leave the server at baseline`, async () => {
  const gc = exposedGc();
  if (!gc) throw new Error('run with --expose-gc (the tests project sets execArgv)');
  const { port } = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${port}/`;
  const started = performance.now();

  // Warm up first, so lazily built caches (codec, ws, TLS-free http parser pools) are in the
  // baseline rather than counted as growth.
  await inBatches(WARMUP, BATCH, () => cycle(url));
  await waitFor(() => expect(resources()).toEqual(IDLE), { timeoutMs: 10_000 });
  const fdsBefore = openFds();
  const heapBefore = await settledHeapUsed(gc);

  // Measured halfway too: by then the server's bounded record of ended sessions (10,000 ids,
  // kept so a late resume is refused with its precise reason) is full, so the second half
  // shows any growth per cycle on its own.
  const cyclesFrom = performance.now();
  const half = Math.floor(CYCLES / 2);
  await inBatches(half, BATCH, () => cycle(url));
  const heapHalfway = await settledHeapUsed(gc);
  await inBatches(CYCLES - half, BATCH, () => cycle(url));
  const cyclesMs = performance.now() - cyclesFrom;
  const heapCycled = await settledHeapUsed(gc);
  await inBatches(EXPIRING, BATCH, () => abandon(url));
  await waitFor(() => ended.expired === EXPIRING, {
    timeoutMs: SESSION_TTL_MS + 30_000,
    intervalMs: 50,
    message: `${EXPIRING} abandoned sessions expired`,
  });
  await waitFor(() => expect(resources()).toEqual(IDLE), {
    timeoutMs: 10_000,
    message: 'server back to baseline',
  });

  const fdsAfter = openFds();
  const heapAfter = await settledHeapUsed(gc);
  const heapDelta = heapAfter - heapBefore;
  const figures = {
    cycles: CYCLES,
    expired: EXPIRING,
    durationS: Math.round((performance.now() - started) / 100) / 10,
    cyclesPerS: Math.round(CYCLES / (cyclesMs / 1000)),
    heapBeforeMB: mb(heapBefore),
    heapDeltaMB: mb(heapDelta),
    heapDeltaSecondHalfMB: mb(heapCycled - heapHalfway),
    fdsBefore,
    fdsAfter,
    sessionsEnded: ended,
    serverAfter: resources(),
    connectionErrors: connectionErrors.length,
  };
  printTable('soak', Object.entries(figures));
  printSummary('soak', figures);

  expect(resources()).toEqual(IDLE);
  expect(server.sessionCount).toBe(0);
  expect(ended).toEqual({ 'client-closed': WARMUP + CYCLES, expired: EXPIRING });
  expect(heapDelta).toBeLessThan(HEAP_BOUND);
  // Tighter, for the half that cannot blame the ended-sessions record: 200 bytes kept per
  // cycle would pass it.
  expect(heapCycled - heapHalfway).toBeLessThan(HEAP_BOUND / 2);
  if (fdsBefore !== undefined) expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + FD_SLACK);
  expect(connectionErrors).toEqual([]);
}, 180_000);

function mb(bytes: number): number {
  return Math.round(bytes / 1e5) / 10;
}
