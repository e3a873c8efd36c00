// How a real ProbeClient recovers from, or stops for, a server that closes, resyncs, resumes,
// stalls and probes in ways no correct server does. Every recovery must be bounded: resyncs by
// their limit (5 within 60 s), connection attempts by connectTimeoutMs and the backoff, timers
// by what the client actually waits for, memory by its queue limits.

import { createServer, type Socket } from 'node:net';
import {
  CloseCode,
  ProbeClient,
  type ProbeClientOptions,
  ProbeError,
  ProtocolError,
} from '@probe/client';
import { FrameType, type WelcomeFrame } from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ClientLog,
  countTimers,
  type HostileServer,
  type Peer,
  quickOptions,
  startHostileServer,
  timersCreatedDuring,
  trackedWebSocket,
  WELCOME,
  watchProcess,
} from './hostile-server.js';

let servers: HostileServer[];
let clients: ProbeClient[];
let process_: ReturnType<typeof watchProcess>;

beforeEach(() => {
  process_ = watchProcess();
  servers = [];
  clients = [];
});

afterEach(async () => {
  for (const client of clients) client.close();
  for (const server of servers) await server.close();
  process_.stop();
  expect(process_.escaped).toEqual([]);
});

async function serve(script?: (peer: Peer, index: number) => void | Promise<void>) {
  const server = await startHostileServer(script);
  servers.push(server);
  return server;
}

function connect(url: string, options: ProbeClientOptions = {}) {
  const client = new ProbeClient(url, quickOptions(options));
  clients.push(client);
  return { client, log: new ClientLog(client) };
}

/** Welcomes a HELLO: a resume as resumed, unless `fields` say otherwise. */
async function welcomeHello(peer: Peer, fields: Partial<WelcomeFrame> = {}) {
  const hello = await peer.hello();
  peer.send({ ...WELCOME, resumed: hello.resume !== null, ...fields });
  return hello;
}

/** Only the client's own connection attempts would add a peer; none may come after a final close. */
async function expectConnections(server: HostileServer, count: number): Promise<void> {
  await sleep(80);
  expect(server.peers).toHaveLength(count);
}

const NO_DELAY = { initialDelayMs: 0, maxDelayMs: 0 };

describe('close codes from the server', () => {
  it('GOODBYE 4503 with a reason of exactly 123 bytes, then the close: final, no retry', async () => {
    const server = await serve(async (peer) => {
      await welcomeHello(peer);
      peer.goodbye(CloseCode.UNAUTHORIZED, 'r'.repeat(123));
    });
    const { log } = connect(server.url, { reconnect: NO_DELAY });
    const closed = await log.closed();
    expect(closed).toMatchObject({ code: CloseCode.UNAUTHORIZED, reason: 'r'.repeat(123) });
    expect([log.errors, log.disconnects]).toEqual([[], []]);
    await expectConnections(server, 1);
  });

  it('GOODBYE 4503 then a close with a retryable code: the GOODBYE decides', async () => {
    const server = await serve(async (peer) => {
      await welcomeHello(peer);
      peer.goodbye(CloseCode.UNAUTHORIZED, 'revoked', false);
      peer.ws.close(CloseCode.SERVER_SHUTDOWN);
    });
    const { log } = connect(server.url, { reconnect: NO_DELAY });
    expect(await log.closed()).toMatchObject({ code: CloseCode.UNAUTHORIZED, reason: 'revoked' });
    expect(log.disconnects).toEqual([]);
    await expectConnections(server, 1);
  });

  it.each([4500, 4501, 4502, 4503, 4599, 1008])(
    'a close %i without GOODBYE, before or after the WELCOME, is final',
    async (code) => {
      const server = await serve(async (peer) => {
        if (code % 2) await welcomeHello(peer);
        else await peer.hello();
        peer.ws.close(code);
      });
      const { log } = connect(server.url, { reconnect: NO_DELAY });
      expect((await log.closed()).code).toBe(code);
      expect([log.disconnects, log.errors, log.lost]).toEqual([[], [], []]);
      await expectConnections(server, 1);
    },
  );

  // A GOODBYE is the server's last frame (PROTOCOL.md section 8): the client acts on its code
  // at once, without waiting for a WebSocket close that may never come.
  it('GOODBYE 4503 with no close after it: the client still stops', async () => {
    const server = await serve(async (peer) => {
      await welcomeHello(peer, { probeIntervalMs: 20, probeTimeoutMs: 20 });
      peer.goodbye(CloseCode.UNAUTHORIZED, 'unauthorized', false);
    });
    const { log } = connect(server.url, { reconnect: NO_DELAY, watchdogSlackMs: 0 });
    await sleep(300);
    expect(log.disconnects).toEqual([]);
    expect(server.peers).toHaveLength(1);
    expect(log.closes[0]?.code).toBe(CloseCode.UNAUTHORIZED);
  });
});

describe('sequence gaps: close with 4004 and resume, at most 5 times a minute', () => {
  it('a MESSAGE that skips a seq: 4004 (no error, no GOODBYE), resumed from the last delivered', async () => {
    const server = await serve();
    const { log } = connect(server.url);
    const first = await server.nextPeer(0);
    await welcomeHello(first);
    first.message(1, 'one');
    first.message(3, 'three');
    await first.waitClosed();
    expect(first.closeCode).toBe(CloseCode.RESYNC);
    expect(first.sent(FrameType.GOODBYE)).toEqual([]);
    const second = await server.nextPeer(1);
    expect((await welcomeHello(second, { sentSeq: 1 })).resume).toMatchObject({ lastSeq: 1 });
    await waitFor(() => log.opens.length === 2);
    expect(log.disconnects).toMatchObject([{ code: CloseCode.RESYNC, attempt: 1 }]);
    expect([log.messages, log.errors, log.closes]).toEqual([['one'], [], []]);
  });

  it('an ACK of 2^53 − 1 after one message: 4004, and the resume replays the message', async () => {
    const server = await serve();
    const { client, log } = connect(server.url);
    const first = await server.nextPeer(0);
    await welcomeHello(first);
    await waitFor(() => client.state === 'open');
    client.send('m1');
    await waitFor(() => first.sent(FrameType.MESSAGE).length === 1);
    first.send({ type: FrameType.ACK, seq: Number.MAX_SAFE_INTEGER });
    await first.waitClosed();
    expect(first.closeCode).toBe(CloseCode.RESYNC);
    const second = await server.nextPeer(1);
    expect((await welcomeHello(second)).resume).toMatchObject({ lastSeq: 0, sentSeq: 1 });
    await waitFor(() => second.sent(FrameType.MESSAGE).length === 1);
    expect(second.sent(FrameType.MESSAGE)).toMatchObject([{ seq: 1, data: 'm1' }]);
    expect(log.errors).toEqual([]);
  });

  it('a server that opens a gap on every connection: 5 resyncs, then a final 4004 reporting every unacknowledged message', async () => {
    const server = await serve(async (peer, index) => {
      await welcomeHello(peer);
      // Alternately a skipped message and an ack of a message never sent.
      if (index % 2) peer.send({ type: FrameType.ACK, seq: 99 });
      else peer.message(2, 'after a gap');
    });
    const { client, log } = connect(server.url, { autoConnect: false });
    for (const m of ['a', 'b', 'c']) client.send(m);
    const started = performance.now();
    client.connect();
    const closed = await log.closed(3000);
    expect(closed).toMatchObject({ code: CloseCode.RESYNC, unconfirmed: ['a', 'b', 'c'] });
    expect(closed.reason).toMatch(/gave up after 5 resyncs/);
    expect(log.disconnects.map((d) => [d.code, d.attempt])).toEqual(
      [1, 2, 3, 4, 5].map((attempt) => [CloseCode.RESYNC, attempt]),
    );
    expect([log.errors, log.messages]).toEqual([[], []]);
    // Each connection replayed the three messages, then was closed for its gap.
    for (const peer of server.peers) {
      expect(peer.sent(FrameType.MESSAGE).map((m) => m.data)).toEqual(['a', 'b', 'c']);
      expect(peer.closeCode).toBe(CloseCode.RESYNC);
    }
    expect(performance.now() - started).toBeLessThan(2000);
    await expectConnections(server, 6);
  });

  it.each([
    ['a GOODBYE 4004 and the close', (peer: Peer) => peer.goodbye(CloseCode.RESYNC, 'resync')],
    ['a bare WebSocket close 4004', (peer: Peer) => peer.ws.close(CloseCode.RESYNC)],
  ])('a server that ends every connection with %s: bounded the same way', async (_how, end) => {
    const server = await serve(async (peer) => {
      await welcomeHello(peer);
      end(peer);
    });
    const { log } = connect(server.url);
    const closed = await log.closed(3000);
    expect(closed.code).toBe(CloseCode.RESYNC);
    expect(log.disconnects).toHaveLength(5);
    expect([log.errors, log.lost]).toEqual([[], []]);
    await expectConnections(server, 6);
  });
});

/** A first connection that delivers `received` messages and acks nothing, then drops (1011). */
async function sessionThenDrop(server: HostileServer, received: number, sends: string[]) {
  const { client, log } = connect(server.url);
  const first = await server.nextPeer(0);
  await welcomeHello(first);
  await waitFor(() => client.state === 'open');
  for (let seq = 1; seq <= received; seq++) first.message(seq, `s${seq}`);
  for (const m of sends) client.send(m);
  await waitFor(() => log.messages.length === received);
  await waitFor(() => first.sent(FrameType.MESSAGE).length === sends.length);
  first.ws.close(CloseCode.INTERNAL_ERROR);
  return { client, log, second: await server.nextPeer(1) };
}

describe('a resumed WELCOME is checked against what the client holds', () => {
  it.each([
    ['lastSeq above the highest seq the client assigned', { lastSeq: 3 }],
    ['sentSeq below the last seq the client received', { sentSeq: 1 }],
  ])('%s: bad-sequence, final 1002, unacknowledged messages reported', async (_name, fields) => {
    const server = await serve();
    const { log, second } = await sessionThenDrop(server, 2, ['a', 'b']);
    await welcomeHello(second, { sentSeq: 2, ...fields });
    const closed = await log.closed();
    expect(closed).toMatchObject({ code: CloseCode.PROTOCOL_ERROR, unconfirmed: ['a', 'b'] });
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]).toBeInstanceOf(ProtocolError);
    expect(log.errors[0]).toMatchObject({ code: 'bad-sequence' });
    await second.waitClosed();
    expect(second.sent(FrameType.GOODBYE)).toEqual([]);
    expect(log.opens).toHaveLength(1);
    await expectConnections(server, 2);
  });

  it.each<[string, { resumed: boolean; sessionId?: string }]>([
    ['resumed, for another session id', { resumed: true, sessionId: 'session-2' }],
    ['not resumed, same session id', { resumed: false }],
    ['not resumed, another session id', { resumed: false, sessionId: 'session-2' }],
  ])('a WELCOME %s: session-lost, then the new session starts at seq 1', async (_n, fields) => {
    const server = await serve();
    const { client, log, second } = await sessionThenDrop(server, 2, ['a']);
    await welcomeHello(second, fields);
    await waitFor(() => log.opens.length === 2);
    expect(log.lost).toEqual([
      {
        reason: 'session-unknown',
        code: 4010,
        sessionId: 'session-1',
        unconfirmedEvents: [],
        unconfirmed: ['a'],
      },
    ]);
    expect(log.opens[1]).toEqual({ sessionId: fields.sessionId ?? 'session-1', resumed: false });
    // Nothing of the old session is replayed into the new one; numbering restarts.
    second.message(1, 'new-1');
    client.send('b');
    await waitFor(() => second.sent(FrameType.MESSAGE).length === 1);
    expect(second.sent(FrameType.MESSAGE)).toMatchObject([{ seq: 1, data: 'b' }]);
    await waitFor(() => log.messages.length === 3);
    expect(log.messages).toEqual(['s1', 's2', 'new-1']);
    expect(log.errors).toEqual([]);
  });

  // Messages queued while no connection was open were never written: no server can have
  // received them. A WELCOME that claims them is refused (bad-sequence, final), and they are
  // reported as unconfirmed rather than dropped.
  it('a new session WELCOME whose lastSeq covers messages only queued: they are not dropped unreported', async () => {
    const server = await serve();
    const { client, log } = connect(server.url, { autoConnect: false });
    client.send('q1');
    client.send('q2');
    client.connect();
    const peer = await server.nextPeer(0);
    await welcomeHello(peer, { lastSeq: 2 });
    // Refused as bad-sequence (final): the client stops and reports both as unconfirmed.
    await waitFor(() => client.state === 'closed');
    expect(log.closes[0]?.code).toBe(CloseCode.PROTOCOL_ERROR);
    const reported = [...log.lost, ...log.closes].flatMap((info) => info.unconfirmed);
    const sent = peer.sent(FrameType.MESSAGE).map((m) => m.data);
    expect([...sent, ...reported]).toEqual(['q1', 'q2']);
  });

  it('a resumed WELCOME whose lastSeq covers messages queued while suspended: they are not dropped unreported', async () => {
    const server = await serve();
    const { client, log } = connect(server.url);
    const first = await server.nextPeer(0);
    await welcomeHello(first);
    await waitFor(() => client.state === 'open');
    client.send('w1');
    await waitFor(() => first.sent(FrameType.MESSAGE).length === 1);
    client.suspend();
    client.send('q2');
    client.send('q3');
    client.connect();
    const second = await server.nextPeer(1);
    expect((await welcomeHello(second, { lastSeq: 3 })).resume).toMatchObject({ sentSeq: 3 });
    await waitFor(() => client.state === 'closed');
    expect(log.closes[0]?.code).toBe(CloseCode.PROTOCOL_ERROR);
    const reported = log.closes.flatMap((info) => info.unconfirmed);
    const sent = second.sent(FrameType.MESSAGE).map((m) => m.data);
    // w1 was written but never acknowledged: it is reported too, with the two never written.
    expect([...sent, ...reported]).toEqual(['w1', 'q2', 'q3']);
  });
});

describe('a server that never sends a WELCOME', () => {
  it('after the upgrade: each attempt ends at connectTimeoutMs (4003), with backoff, up to maxAttempts', async () => {
    const server = await serve();
    const reconnect = { connectTimeoutMs: 100, initialDelayMs: 40, maxDelayMs: 80, maxAttempts: 3 };
    const started = performance.now();
    const { log } = connect(server.url, { reconnect, random: () => 0.999 });
    const closed = await log.closed(3000);
    expect(closed.code).toBe(CloseCode.CONNECT_TIMEOUT);
    expect(closed.reason).toMatch(/gave up after 3 attempts/);
    // Full jitter with random() ≈ 1: the bound itself, 40 then 80 (maxDelayMs).
    expect(log.disconnects.map((d) => [d.code, d.attempt, d.delayMs])).toEqual([
      [CloseCode.CONNECT_TIMEOUT, 1, 39],
      [CloseCode.CONNECT_TIMEOUT, 2, 79],
      [CloseCode.CONNECT_TIMEOUT, 3, 79],
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4 * 100 + 39 + 79 + 79 - 5);
    for (const peer of server.peers) {
      await peer.waitClosed();
      // Dropped without a close handshake, which a stalled server would never finish.
      expect(peer.closeCode).toBe(1006);
      expect(peer.frames.map((f) => f.type)).toEqual([FrameType.HELLO]);
    }
    expect(log.errors).toEqual([]);
    await expectConnections(server, 4);
  });

  it('after the upgrade, retrying forever: at most one attempt per connectTimeoutMs over 1 s', async () => {
    const server = await serve();
    const reconnect = { connectTimeoutMs: 50, initialDelayMs: 0, maxDelayMs: 0 };
    connect(server.url, { reconnect });
    const timers = await timersCreatedDuring(1000);
    const attempts = server.peers.length;
    expect(attempts).toBeGreaterThanOrEqual(5);
    expect(attempts).toBeLessThanOrEqual(1000 / 50 + 1);
    // A few timers per attempt (connect deadline, retry), not a loop.
    expect(timers).toBeLessThan(10 * attempts);
  });

  it('TCP accepted, upgrade never answered: the same connect timeout, bounded retries', async () => {
    const sockets: Socket[] = [];
    const tcp = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      // Reads the upgrade request and never answers it.
      socket.resume();
    });
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const { port } = tcp.address() as { port: number };
    try {
      const reconnect = {
        connectTimeoutMs: 100,
        initialDelayMs: 10,
        maxDelayMs: 20,
        maxAttempts: 2,
      };
      const { log } = connect(`ws://127.0.0.1:${port}/`, { reconnect });
      const closed = await log.closed(3000);
      expect(closed).toMatchObject({ code: CloseCode.CONNECT_TIMEOUT });
      expect(log.disconnects.map((d) => d.code)).toEqual([4003, 4003]);
      expect(sockets).toHaveLength(3);
      await waitFor(() => sockets.every((s) => s.destroyed || s.readableEnded), {
        timeoutMs: 1000,
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tcp.close(resolve));
    }
  });
});

describe('a server that welcomes and drops at once', () => {
  it('close 1011 after every WELCOME: attempts keep counting (minUptimeMs), delays follow the backoff', async () => {
    const server = await serve(async (peer) => {
      await welcomeHello(peer);
      peer.ws.close(CloseCode.INTERNAL_ERROR);
    });
    const reconnect = { initialDelayMs: 20, maxDelayMs: 160, factor: 2 };
    const { log } = connect(server.url, { reconnect, random: () => 0.999 });
    await sleep(1000);
    const attempts = log.disconnects.map((d) => d.attempt);
    expect(attempts).toEqual(attempts.map((_, i) => i + 1));
    expect(log.disconnects.map((d) => d.delayMs)).toEqual(
      attempts.map((n) => Math.floor(0.999 * Math.min(160, 20 * 2 ** (n - 1)))),
    );
    // 19 + 39 + 79 + 159 + 159 + … ms between attempts: about 8 within a second.
    expect(server.peers.length).toBeGreaterThanOrEqual(4);
    expect(server.peers.length).toBeLessThanOrEqual(10);
    expect([log.errors, log.closes]).toEqual([[], []]);
  });
});

describe('a probe flood', () => {
  it('20,000 probes in bursts: each answered once and in order, no timer per probe, nothing left buffered', async () => {
    const server = await serve();
    const { WebSocket, sockets } = trackedWebSocket();
    const { client, log } = connect(server.url, { WebSocket });
    const peer = await server.nextPeer(0);
    await welcomeHello(peer);
    await waitFor(() => client.state === 'open');
    const total = 20_000;
    const timers = await countTimers(async () => {
      for (let id = 1; id <= total; ) {
        for (const end = id + 2000; id < end; id++) peer.probe(id);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await waitFor(() => peer.sent(FrameType.PROBE_ANSWER).length >= total, {
        timeoutMs: 5000,
        intervalMs: 50,
      });
    });
    const ids = peer.sent(FrameType.PROBE_ANSWER).map((a) => a.id);
    expect(ids).toHaveLength(total);
    expect(ids.every((id, i) => id === i + 1)).toBe(true);
    // A timer per probe would make 20,000; waitFor's polling makes at most 100.
    expect(timers).toBeLessThan(total / 100);
    expect(sockets[0]!.bufferedAmount).toBe(0);
    expect(client.buffered).toEqual({ messages: 0, bytes: 0 });
    expect([log.disconnects, log.errors]).toEqual([[], []]);
  });

  it('probes between messages: the answers carry the cumulative ack, acks stay batched', async () => {
    const server = await serve();
    const { client, log } = connect(server.url);
    const peer = await server.nextPeer(0);
    await welcomeHello(peer);
    await waitFor(() => client.state === 'open');
    for (let seq = 1; seq <= 1000; seq++) {
      peer.message(seq, seq);
      peer.probe(seq);
      for (let i = 0; i < 4; i++) peer.probe(100_000 + seq * 4 + i);
    }
    await waitFor(() => peer.sent(FrameType.PROBE_ANSWER).length === 5000);
    const acks = [
      ...peer.sent(FrameType.PROBE_ANSWER).flatMap((a) => (a.ack === null ? [] : [a.ack])),
      ...peer.sent(FrameType.ACK).map((a) => a.seq),
    ];
    expect(Math.max(...acks)).toBe(1000);
    // An ack goes out only when a message arrived since the last one: never one per probe.
    expect(acks.length).toBeLessThanOrEqual(1000);
    expect(log.messages).toHaveLength(1000);
    expect([log.disconnects, log.errors]).toEqual([[], []]);
  });
});

describe('a server that never acknowledges', () => {
  it('send() refuses past maxQueueMessages (queue-full); every queued message is reported at the end', async () => {
    const server = await serve();
    const { client, log } = connect(server.url, { maxQueueMessages: 50 });
    const peer = await server.nextPeer(0);
    await welcomeHello(peer);
    await waitFor(() => client.state === 'open');
    for (let i = 0; i < 50; i++) client.send(i);
    expect(() => client.send(50)).toThrow(ProbeError);
    expect(() => client.send(50)).toThrow(expect.objectContaining({ code: 'queue-full' }));
    expect(client.buffered.messages).toBe(50);
    await waitFor(() => peer.sent(FrameType.MESSAGE).length === 50);
    peer.goodbye(CloseCode.SESSION_CLOSED, 'closed');
    const closed = await log.closed();
    expect(closed.code).toBe(CloseCode.SESSION_CLOSED);
    expect(closed.unconfirmed).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(closed.unsent).toEqual([]);
  });
});
