import type { AddressInfo } from 'node:net';
import { encodeProbeAnswer, probeAnswerId } from '@probe/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { routeProbeAnswers } from './ws-probe-answers.js';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

async function pair(): Promise<{ server: WebSocket; client: WebSocket }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  wss = server;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  return { server: await accepted, client };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('routeProbeAnswers', () => {
  it('hands whole probe answers to the sink and everything else to ws, in order', async () => {
    const { server, client } = await pair();
    const seen: string[] = [];
    routeProbeAnswers(server, { receive: (bytes) => seen.push(`answer ${probeAnswerId(bytes)}`) });
    server.on('message', (data: Buffer, isBinary) =>
      seen.push(isBinary ? `ws ${[...data].join(',')}` : `text ${data.toString()}`),
    );
    for (const id of [1, 200, 65_535, 0xffff_ffff]) {
      client.send(encodeProbeAnswer(id, null));
      await settle();
    }
    client.send(encodeProbeAnswer(7, 3)); // carries an ack: ws's path
    await settle();
    client.send('hi');
    await settle();
    client.send(Uint8Array.of(0x92, 4));
    await settle();
    expect(seen).toEqual([
      'answer 1',
      'answer 200',
      'answer 65535',
      'answer 4294967295',
      `ws ${[...encodeProbeAnswer(7, 3)].join(',')}`,
      'text hi',
      'ws 146,4',
    ]);
    client.terminate();
  });

  it('leaves answers that arrive with other bytes to ws', async () => {
    const { server, client } = await pair();
    const fast: number[] = [];
    const slow: number[] = [];
    routeProbeAnswers(server, { receive: (bytes) => fast.push(probeAnswerId(bytes)) });
    server.on('message', (data: Buffer) => slow.push(probeAnswerId(data)));
    // Two answers in one write: one chunk, ws parses both.
    const socket = (client as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    socket.cork();
    client.send(encodeProbeAnswer(1, null));
    client.send(encodeProbeAnswer(2, null));
    socket.uncork();
    await settle();
    expect(fast).toEqual([]);
    expect(slow).toEqual([1, 2]);
    client.terminate();
  });
});
