import { decode, encode, encodeProbeAnswer, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { sleep, waitFor } from '@probe/testkit';
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ProbeServer } from './server.js';

const CONNECTIONS = 2000;
const INTERVAL = 500;

const server = new ProbeServer({
  probeIntervalMs: INTERVAL,
  probeTimeoutMs: 2000,
  handshakeTimeoutMs: 30_000,
});
const sockets: WebSocket[] = [];
afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await server.close();
});

/** Minimal clients: say hello, answer probes, and record when each probe arrived. */
function connect(url: string, probeTimes: number[][]): Promise<void> {
  const index = probeTimes.push([]) - 1;
  const socket = new WebSocket(url);
  sockets.push(socket);
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('open', () => {
      socket.send(
        encode({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null }),
      );
    });
    socket.on('message', (data: Buffer) => {
      const frame = decode(data);
      if (frame.type === FrameType.WELCOME) resolve();
      if (frame.type === FrameType.PROBE) {
        probeTimes[index]!.push(performance.now());
        socket.send(encodeProbeAnswer(frame.id, null));
      }
    });
  });
}

function timeoutHandles(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

it(`probes ${CONNECTIONS} connections from one timer, each within every interval`, async () => {
  const { port } = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${port}/`;
  const probeTimes: number[][] = [];
  for (let i = 0; i < 10; i++) await connect(url, probeTimes);
  await sleep(50);
  const timersWithTen = timeoutHandles();
  for (let batch = 0; batch < CONNECTIONS / 100 - 0.1; batch++) {
    await Promise.all(Array.from({ length: 100 }, () => connect(url, probeTimes)));
  }
  await waitFor(() => server.stats().sessions.open >= CONNECTIONS + 10, { timeoutMs: 30_000 });
  expect(server.stats().scheduler.timers).toBe(1);
  // Native timers do not grow with connections (the 10- and 2,010-connection counts match).
  expect(timeoutHandles()).toBeLessThanOrEqual(timersWithTen + 1);

  // Watch three intervals: every connection must have been probed within each one.
  const from = performance.now() + INTERVAL;
  await sleep(INTERVAL * 4 + 200);
  const to = from + INTERVAL * 3;
  let worstGap = 0;
  for (const times of probeTimes) {
    const window = [
      from - INTERVAL * 1.2,
      ...times.filter((t) => t >= from - INTERVAL && t <= to),
      to,
    ];
    const inWindow = times.filter((t) => t >= from && t <= to);
    expect(inWindow.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < window.length; i++)
      worstGap = Math.max(worstGap, window[i]! - window[i - 1]!);
  }
  // Probes are due every INTERVAL after the previous answer; generous slack for a busy machine.
  expect(worstGap).toBeLessThan(INTERVAL * 2);
  expect(server.stats().sessions.suspended).toBe(0);
}, 90_000);
