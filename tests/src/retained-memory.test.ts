import {
  decodeFromServer,
  encodeHello,
  encodeProbeAnswer,
  FrameType,
  PROTOCOL_VERSION,
} from '@probe/protocol';
import { ProbeServer, type Session } from '@probe/server';
import { sleep, waitFor } from '@probe/testkit';
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { exposedGc, printSummary } from './figures.js';

// Frames kept for replay must hold only their own bytes. A frame that is a view into a larger
// shared buffer keeps all of that buffer alive for as long as the frame waits for its ack, so a
// session whose client stops acking would pin megabytes with a few bytes of messages.
const LARGE_BYTES = 1_000_000;
const SMALL_MESSAGES = 2_000;
/** Room for what the process allocates besides the frames (socket buffers, one encoder scratch). */
const SLACK_BYTES = 1024 * 1024;

const server = new ProbeServer();
afterAll(() => server.close());

/** arrayBuffers after full collections, the lowest of a few rounds. */
async function settledArrayBuffers(gc: () => void): Promise<number> {
  let bytes = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    gc();
    await sleep(20);
    bytes = Math.min(bytes, process.memoryUsage().arrayBuffers);
  }
  return bytes;
}

/**
 * A client that answers probes and never acks, so the server keeps every message it sends.
 * It keeps nothing it receives, so the measured growth is the server's.
 */
function silentClient(url: string): { ws: WebSocket; received: () => number } {
  const ws = new WebSocket(url);
  let messages = 0;
  ws.on('open', () => ws.send(encodeHello(PROTOCOL_VERSION, null, null)));
  ws.on('message', (data: Buffer) => {
    const frame = decodeFromServer(data);
    if (frame.type === FrameType.PROBE) ws.send(encodeProbeAnswer(frame.id, null));
    if (frame.type === FrameType.MESSAGE) messages++;
  });
  return { ws, received: () => messages };
}

it('messages waiting for their ack retain only their own bytes', async () => {
  const gc = exposedGc();
  if (!gc) throw new Error('run with --expose-gc (the tests project sets it)');
  const { port } = await server.listen(0, '127.0.0.1');
  const opened = new Promise<Session>((resolve) => server.once('session', resolve));
  const client = silentClient(`ws://127.0.0.1:${port}/`);
  const session = await opened;
  // Warm up: the first frames allocate the encoder's scratch buffer and the socket's buffers.
  for (let i = 0; i < 100; i++) session.send(i);
  await waitFor(() => client.received() === 100);
  const before = await settledArrayBuffers(gc);

  session.send('x'.repeat(LARGE_BYTES));
  for (let i = 0; i < SMALL_MESSAGES; i++) session.send({ n: i });
  await waitFor(() => client.received() === 101 + SMALL_MESSAGES, { timeoutMs: 10_000 });
  const growth = (await settledArrayBuffers(gc)) - before;

  const needed = session.buffered.bytes;
  printSummary('retained-memory', { growth, needed, messages: session.buffered.messages });
  expect(session.buffered.messages).toBe(101 + SMALL_MESSAGES);
  expect(growth, `arrayBuffers grew by ${growth} bytes for ${needed} bytes of frames`).toBeLessThan(
    needed + SLACK_BYTES,
  );
  client.ws.terminate();
}, 30_000);
