import type { AddressInfo } from 'node:net';
import { encodeMessage, type Frame, FrameType, isProtocolError } from '@probe/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createFaultProxy, type FaultProxy } from './fault-proxy.js';
import { RawClient } from './raw-client.js';
import { once, sleep, waitFor } from './wait.js';

const message: Frame = { type: FrameType.MESSAGE, seq: 1, data: { text: 'hi', n: [1, 2] } };

let wss: WebSocketServer;
let port: number;
let proxy: FaultProxy;
let serverSockets: WebSocket[];
let clients: RawClient[];
/** What the server does with each new socket; echoes binary and text by default. */
let onServerSocket: (socket: WebSocket) => void;

async function open(url = proxy.url()): Promise<RawClient> {
  const client = await RawClient.connect(url);
  clients.push(client);
  return client;
}

describe('RawClient through the fault proxy', () => {
  beforeEach(async () => {
    serverSockets = [];
    clients = [];
    onServerSocket = (socket) =>
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.on('connection', (socket) => {
      serverSockets.push(socket);
      onServerSocket(socket);
    });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
    proxy = await createFaultProxy({ targetPort: port });
  });

  afterEach(async () => {
    for (const client of clients) client.terminate();
    await proxy.close();
    for (const socket of serverSockets) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('sends a frame and decodes the echoed one', async () => {
    const client = await open();
    client.sendFrame(message);
    expect(await client.nextFrame()).toEqual(message);
    expect(proxy.stats.bytesForwarded).toBeGreaterThan(0);
  });

  it('queues frames that arrive before anyone asks', async () => {
    onServerSocket = (socket) => {
      for (const seq of [1, 2, 3]) socket.send(encodeMessage(seq, null));
    };
    const client = await open();
    await waitFor(() => client.pending === 3, { message: 'three queued frames' });
    const seqs = [];
    for (let i = 0; i < 3; i++) seqs.push(((await client.nextFrame()) as { seq: number }).seq);
    expect(seqs).toEqual([1, 2, 3]);
  });

  it('rejects undecodable messages with a ProtocolError', async () => {
    const client = await open();
    client.sendBytes(new Uint8Array([0xc1, 0x00]));
    const error = await client.nextFrame().catch((e: unknown) => e);
    expect(isProtocolError(error) && error.code).toBe('invalid-frame');
    client.sendBytes('text');
    expect(await client.nextMessage()).toBe('text');
    client.sendBytes('text');
    await expect(client.nextFrame()).rejects.toMatchObject({ code: 'text-frame' });
  });

  it('reports the close code and reason', async () => {
    onServerSocket = (socket) => socket.close(4001, 'bye');
    const client = await open();
    expect(await client.waitForClose()).toEqual({ code: 4001, reason: 'bye' });
    await expect(client.nextFrame()).rejects.toThrow(/closed \(4001 bye\)/);
  });

  it('times out when nothing comes', async () => {
    const client = await open();
    await expect(client.nextFrame(50)).rejects.toThrow(/no message within 50 ms/);
    await expect(client.waitForClose(50)).rejects.toThrow(/still open after 50 ms/);
  });

  it('terminate closes without a close frame', async () => {
    const client = await open();
    await waitFor(() => serverSockets[0], { message: 'server socket' });
    const closed = once<[number]>(serverSockets[0]!, 'close');
    client.terminate();
    expect((await closed)[0]).toBe(1006);
    expect((await client.waitForClose()).code).toBe(1006);
  });

  it('a blackholed connection stays open and silent in both directions', async () => {
    const client = await open();
    const conn = proxy.latest()!;
    await waitFor(() => serverSockets[0], { message: 'server socket' });
    const server = serverSockets[0]!;
    const serverGot: unknown[] = [];
    server.on('message', (data) => serverGot.push(data));
    let serverClosed = false;
    server.on('close', () => {
      serverClosed = true;
    });

    conn.blackhole();
    client.sendFrame(message);
    server.send(encodeMessage(7, null));
    await waitFor(() => conn.bytesDropped > 0, { message: 'bytes dropped' });
    await sleep(500);
    expect(serverGot).toEqual([]);
    expect(client.pending).toBe(0);
    expect(serverClosed).toBe(false);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('a reset closes the client with 1006', async () => {
    const client = await open();
    proxy.resetAll();
    expect((await client.waitForClose()).code).toBe(1006);
  });

  it('connect fails when the proxy refuses or the server declines the upgrade', async () => {
    proxy.refuse(true);
    await expect(RawClient.connect(proxy.url())).rejects.toThrow();
    expect(proxy.stats.refused).toBe(1);

    const declining = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      verifyClient: () => false,
    });
    try {
      await once(declining, 'listening');
      const url = `ws://127.0.0.1:${(declining.address() as AddressInfo).port}/`;
      await expect(RawClient.connect(url)).rejects.toThrow(/HTTP 401/);
    } finally {
      await new Promise<void>((resolve) => declining.close(() => resolve()));
    }
  });
});
