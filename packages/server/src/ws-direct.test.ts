import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DIRECT_MAX_BYTES, writeFrame } from './ws-direct.js';

let wss: WebSocketServer | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
  wss = undefined;
});

/** A server socket and a client connected to it on 127.0.0.1. */
async function pair(): Promise<{ server: WebSocket; client: WebSocket }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  wss = server;
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  return { server: await accepted, client };
}

describe('writeFrame', () => {
  it('writes binary frames a ws client reads back whole and in order', async () => {
    const { server, client } = await pair();
    const sizes = [0, 3, 125, 126, 300, DIRECT_MAX_BYTES];
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      client.on('message', (data: Buffer, isBinary) => {
        expect(isBinary).toBe(true);
        got.push(data);
        if (got.length === sizes.length + 1) resolve();
      });
    });
    for (const size of sizes) {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
      expect(writeFrame(server, payload)).toBe(true);
    }
    // Interleaved with ws's own sends, order holds.
    server.send(Buffer.from([9, 9]));
    await done;
    expect(got.slice(0, -1).map((b) => b.length)).toEqual(sizes);
    expect([...got[1]!]).toEqual([3, 10, 17]);
    expect([...got.at(-1)!]).toEqual([9, 9]);
    client.terminate();
  });

  it('leaves large payloads, a corked burst and closing sockets to ws', async () => {
    const { server, client } = await pair();
    expect(writeFrame(server, new Uint8Array(DIRECT_MAX_BYTES + 1))).toBe(false);
    const socket = (server as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    expect(writeFrame(server, new Uint8Array(3))).toBe(false);
    socket.uncork();
    expect(writeFrame(server, new Uint8Array(3))).toBe(true);
    server.close(1000, 'bye');
    expect(writeFrame(server, new Uint8Array(3))).toBe(false);
    client.terminate();
  });
});
