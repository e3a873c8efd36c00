// A sequence gap on a live connection (bytes lost on the path) must not end the session: the
// client closes that connection with 4004 and resumes, and the server replays what is missing.
// The server here is a bare `ws` server speaking the protocol by hand, so it can misbehave.

import type { AddressInfo } from 'node:net';
import { ProbeClient } from '@probe/client';
import {
  CloseCode,
  decode,
  encode,
  encodeMessage,
  type Frame,
  FrameType,
  type HelloFrame,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from '@probe/protocol';
import { once, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';

/** One connection to the scripted server: what it received, and how it closed. */
class Peer {
  readonly frames: Frame[] = [];
  closeCode: number | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.frames.push(decode(new Uint8Array(data))));
    ws.on('close', (code: number) => {
      this.closeCode = code;
    });
  }

  async hello(): Promise<HelloFrame> {
    await waitFor(() => this.frames.length > 0, { timeoutMs: 5000 });
    return this.frames[0] as HelloFrame;
  }

  welcome(fields: Partial<WelcomeFrame> = {}): void {
    this.sendFrame({
      type: FrameType.WELCOME,
      version: PROTOCOL_VERSION,
      sessionId: 'session-1',
      token: 'token-1',
      probeIntervalMs: 10_000,
      probeTimeoutMs: 5000,
      maxPayloadBytes: 1 << 20,
      resumed: false,
      lastSeq: 0,
      sentSeq: 0,
      ...fields,
    });
  }

  message(seq: number, data: unknown): void {
    this.ws.send(encodeMessage(seq, data));
  }

  sendFrame(frame: Frame): void {
    this.ws.send(encode(frame));
  }

  messages(): unknown[] {
    return this.frames.flatMap((f) => (f.type === FrameType.MESSAGE ? [f.data] : []));
  }
}

let server: WebSocketServer | undefined;
let client: ProbeClient | undefined;
afterEach(async () => {
  client?.close();
  await new Promise((resolve) => server?.close(resolve));
});

async function scriptedServer() {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  const peers: Peer[] = [];
  server.on('connection', (ws) => peers.push(new Peer(ws)));
  const { port } = server.address() as AddressInfo;
  const nextPeer = async (index: number) => {
    await waitFor(() => peers.length > index, { timeoutMs: 5000 });
    return peers[index]!;
  };
  return { url: `ws://127.0.0.1:${port}/`, nextPeer };
}

const reconnect = { initialDelayMs: 20, maxDelayMs: 50 };

describe('client: sequence gaps on a live connection', () => {
  it('a skipped message: closes with 4004, resumes from the last delivered, gets the rest once', async () => {
    const { url, nextPeer } = await scriptedServer();
    client = new ProbeClient(url, { reconnect });
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));

    const first = await nextPeer(0);
    expect((await first.hello()).resume).toBeNull();
    first.welcome();
    first.message(1, 'one');
    first.message(3, 'three'); // 2 was lost on the path
    await waitFor(() => first.closeCode !== null, { timeoutMs: 5000 });
    expect(first.closeCode).toBe(CloseCode.RESYNC);

    const second = await nextPeer(1);
    expect((await second.hello()).resume).toEqual({
      sessionId: 'session-1',
      token: 'token-1',
      lastSeq: 1,
      sentSeq: 0,
    });
    second.welcome({ resumed: true, token: 'token-2', sentSeq: 3 });
    second.message(2, 'two');
    second.message(3, 'three');
    await waitFor(() => received.length === 3, { timeoutMs: 5000 });
    expect(received).toEqual(['one', 'two', 'three']);
    expect(client.state).toBe('open');
    expect(client.sessionId).toBe('session-1');
  });

  it('an impossible ack: closes with 4004 and replays the unacknowledged message on the resume', async () => {
    const { url, nextPeer } = await scriptedServer();
    client = new ProbeClient(url, { reconnect });
    const first = await nextPeer(0);
    await first.hello();
    first.welcome();
    await waitFor(() => client!.state === 'open');
    client.send('a');
    await waitFor(() => first.messages().length === 1);
    first.sendFrame({ type: FrameType.ACK, seq: 7 });
    await waitFor(() => first.closeCode !== null, { timeoutMs: 5000 });
    expect(first.closeCode).toBe(CloseCode.RESYNC);

    const second = await nextPeer(1);
    expect((await second.hello()).resume).toMatchObject({ lastSeq: 0, sentSeq: 1 });
    second.welcome({ resumed: true, lastSeq: 0 });
    await waitFor(() => second.messages().length === 1, { timeoutMs: 5000 });
    expect(second.messages()).toEqual(['a']);
  });

  it('a server that keeps skipping: the client gives up and reports what was not confirmed', async () => {
    const { url, nextPeer } = await scriptedServer();
    client = new ProbeClient(url, { reconnect });
    const closed = once<[{ code: number; reason: string; unconfirmed: unknown[] }]>(
      client,
      'close',
      10_000,
    );
    for (let i = 0; i < 6; i++) {
      const peer = await nextPeer(i);
      await peer.hello();
      peer.welcome({ resumed: i > 0 });
      if (i === 0) {
        await waitFor(() => client!.state === 'open');
        client.send('unconfirmed');
      }
      peer.message(2, 'gap');
    }
    const [info] = await closed;
    expect(info).toMatchObject({ code: CloseCode.RESYNC, unconfirmed: ['unconfirmed'] });
    expect(info.reason).toMatch(/gave up after 5 resyncs/);
  });
});
