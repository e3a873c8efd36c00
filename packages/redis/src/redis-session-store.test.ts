import { ProbeClient } from '@probe/client';
import {
  CloseCode,
  decode,
  encodeProbeAnswer,
  FrameType,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from '@probe/protocol';
import { RawClient, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster, type TestNode } from './test-nodes.js';

let cluster: TestCluster | undefined;
const clients: ProbeClient[] = [];
async function start(...args: Parameters<typeof startCluster>): Promise<TestCluster> {
  cluster = await startCluster(...args);
  return cluster;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await cluster?.close();
  cluster = undefined;
});

const RECONNECT = { initialDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 2000 };

/** A client through the balancer whose server echoes every message back. */
function echoClient(c: TestCluster) {
  for (const node of c.nodes) echoOn(node);
  const client = new ProbeClient(c.balancer.url('/'), { reconnect: RECONNECT });
  clients.push(client);
  const received: unknown[] = [];
  const lost: unknown[] = [];
  client.on('message', (data) => received.push(data));
  client.on('session-lost', (info) => lost.push(info));
  return { client, received, lost };
}

const echoing = new WeakSet<TestNode>();
function echoOn(node: TestNode): void {
  if (echoing.has(node)) return;
  echoing.add(node);
  node.server.on('session', (session) => {
    session.on('message', (data) => session.send({ echo: data }));
  });
}

/** Every client message delivered once, in order, on whichever node; no redelivery marks. */
function deliveredInOrder(c: TestCluster, sessionId: string): unknown[] {
  return c.nodes.flatMap((node) =>
    node.delivered.filter(([id]) => id === sessionId).map(([, data]) => data),
  );
}

async function rawHello(port: number, resume: WelcomeFrame, token = resume.token) {
  const raw = await RawClient.connect(`ws://127.0.0.1:${port}/`);
  raw.sendFrame({
    type: FrameType.HELLO,
    version: PROTOCOL_VERSION,
    auth: null,
    resume: { sessionId: resume.sessionId, token, lastSeq: 0, sentSeq: 0 },
  });
  // A healthy client answers probes, so the connection that wins stays open.
  raw.ws.on('message', (data: Buffer) => {
    const frame = decode(data);
    if (frame.type === FrameType.PROBE) raw.ws.send(encodeProbeAnswer(frame.id, null));
  });
  return raw;
}

describe('RedisSessionStore: sessions shared by several nodes', () => {
  it('a client resumes on another node with every message exactly once, both ways', async () => {
    const c = await start(2);
    const [a, b] = c.nodes as [TestNode, TestNode];
    c.live.delete(b.port);
    const { client, received, lost } = echoClient(c);
    for (let i = 1; i <= 50; i++) client.send(i);
    await waitFor(() => received.length === 50, { timeoutMs: 5000 });
    c.live.delete(a.port);
    c.live.add(b.port);
    for (let i = 51; i <= 100; i++) client.send(i);
    a.server.dropConnections();
    await waitFor(() => received.length === 100, { timeoutMs: 5000 });
    const sessionId = client.sessionId!;
    expect(b.sessions).toEqual([expect.objectContaining({ moved: true })]);
    expect(b.sessions[0]!.session.id).toBe(sessionId);
    const numbers = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(received).toEqual(numbers.map((n) => ({ echo: n })));
    expect(deliveredInOrder(c, sessionId)).toEqual(numbers);
    expect(c.nodes.flatMap((n) => n.delivered).filter((d) => d[3])).toEqual([]);
    expect(lost).toEqual([]);
  });

  it('deploy: server.close() hands sessions over under traffic, nothing lost or repeated', async () => {
    const c = await start(2);
    const [a, b] = c.nodes as [TestNode, TestNode];
    c.live.delete(b.port);
    const users = Array.from({ length: 5 }, () => echoClient(c));
    await waitFor(() => users.every((u) => u.client.state === 'open'));
    c.live.delete(a.port);
    c.live.add(b.port);
    let sent = 0;
    const sending = (async () => {
      for (; sent < 60; sent++) {
        for (const u of users) u.client.send(sent + 1);
        await sleep(5);
      }
    })();
    await sleep(60);
    await a.server.close();
    await sending;
    await waitFor(() => users.every((u) => u.received.length === 60), { timeoutMs: 8000 });
    const numbers = Array.from({ length: 60 }, (_, i) => i + 1);
    for (const u of users) {
      expect(u.received).toEqual(numbers.map((n) => ({ echo: n })));
      expect(deliveredInOrder(c, u.client.sessionId!)).toEqual(numbers);
      expect(u.lost).toEqual([]);
    }
    expect(b.sessions.filter((s) => s.moved)).toHaveLength(5);
    expect(c.nodes.flatMap((n) => n.delivered).filter((d) => d[3])).toEqual([]);
  });

  it('two resumes of one session on two nodes at once: exactly one ends up serving it', async () => {
    const c = await start(3);
    const [a, b, d] = c.nodes as [TestNode, TestNode, TestNode];
    const first = await RawClient.connect(`ws://127.0.0.1:${d.port}/`);
    first.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    const welcome = (await first.nextFrame()) as WelcomeFrame;
    first.terminate();
    await waitFor(() => d.sessions[0]?.session.state === 'suspended');
    const [onA, onB] = await Promise.all([rawHello(a.port, welcome), rawHello(b.port, welcome)]);
    const outcomes = await Promise.all(
      [onA, onB].map(async (raw) => {
        const frame = await raw.nextFrame(5000).catch(() => null);
        return frame?.type === FrameType.WELCOME ? 'welcome' : 'refused';
      }),
    );
    await sleep(300);
    const open = [onA, onB].filter((raw) => raw.ws.readyState === raw.ws.OPEN);
    expect(open).toHaveLength(1);
    expect(outcomes).toContain('welcome');
    const serving = c.nodes.filter((n) => n.sessions.some((s) => s.session.state === 'open'));
    expect(serving).toHaveLength(1);
    for (const raw of [onA, onB]) raw.close();
  });

  it('a node whose session was taken over is fenced: it cannot send for it any more', async () => {
    const c = await start(2);
    const [a, b] = c.nodes as [TestNode, TestNode];
    const raw = await RawClient.connect(`ws://127.0.0.1:${a.port}/`);
    raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    const welcome = (await raw.nextFrame()) as WelcomeFrame;
    const frames: number[] = [];
    raw.ws.on('message', (data: Buffer) => frames.push(data[1] ?? -1));
    const session = a.sessions[0]!.session;
    const reasons: string[] = [];
    session.on('close', (reason) => reasons.push(reason));
    // Another node takes the session over without asking (as after a node froze).
    const loaded = await b.store.load(welcome.sessionId);
    if (!loaded || !('record' in loaded)) throw new Error('session not stored');
    const tokens = {
      tokenHash: loaded.record.tokenHash,
      pendingTokenHash: loaded.record.pendingTokenHash,
      redeliverUpTo: 0,
    };
    const epoch = await b.store.claim(
      welcome.sessionId,
      { epoch: loaded.record.epoch, version: loaded.record.version },
      b.server.nodeId,
      tokens,
      30,
    );
    expect(epoch).toBe(loaded.record.epoch + 1);
    session.send('must not reach the client');
    const durable = session.durable();
    await expect(durable).rejects.toThrow();
    expect((await raw.waitForClose()).code).toBe(CloseCode.SESSION_MOVED);
    expect(reasons).toEqual(['moved']);
    expect(frames.filter((type) => type === FrameType.MESSAGE)).toEqual([]);
  });

  it('the resume limit holds across nodes: it is counted in Redis', async () => {
    const c = await start(2, { maxResumesPerMinute: 3 });
    const [a, b] = c.nodes as [TestNode, TestNode];
    const first = await RawClient.connect(`ws://127.0.0.1:${a.port}/`);
    first.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    let welcome = (await first.nextFrame()) as WelcomeFrame;
    first.terminate();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const raw = await rawHello(i % 2 ? a.port : b.port, welcome);
      const frame = await raw.nextFrame(5000);
      if (frame.type === FrameType.WELCOME) {
        welcome = { ...welcome, token: frame.token };
        codes.push(0);
        raw.terminate();
      } else {
        codes.push((await raw.waitForClose()).code);
      }
    }
    expect(codes).toEqual([0, 0, 0, 1013, 1013, 1013]);
  });

  it('keys of ended and expired sessions disappear: the key count returns to its baseline', async () => {
    const c = await start(1, { sessionTtlMs: 400 }, { endedTtlMs: 300 });
    const baseline = await c.redis.dbsize();
    const users = Array.from({ length: 10 }, () => echoClient(c));
    await waitFor(() => users.every((u) => u.client.state === 'open'));
    for (const u of users) u.client.send('x');
    await waitFor(() => users.every((u) => u.received.length === 1));
    expect(await c.redis.dbsize()).toBeGreaterThan(baseline);
    // Half end cleanly, half just vanish and expire.
    for (const u of users.slice(0, 5)) u.client.close();
    c.nodes[0]!.server.dropConnections();
    for (const u of users.slice(5)) u.client.close();
    await waitFor(async () => (await c.redis.dbsize()) === baseline, { timeoutMs: 5000 });
  });
});

describe('RedisSessionStore: Redis faults', () => {
  it('Redis restarted (appendfsync always): sessions resume and nothing is lost', async () => {
    const c = await start(1);
    const { client, received, lost } = echoClient(c);
    for (let i = 1; i <= 20; i++) client.send(i);
    await waitFor(() => received.length === 20);
    await c.redis.shutdown();
    for (let i = 21; i <= 40; i++) client.send(i);
    await sleep(300);
    await c.redis.restart();
    await waitFor(() => received.length === 40, { timeoutMs: 10_000 });
    const numbers = Array.from({ length: 40 }, (_, i) => i + 1);
    expect(received).toEqual(numbers.map((n) => ({ echo: n })));
    expect(lost).toEqual([]);
  });

  it('Redis unreachable: new sessions are refused with 1013 at once, and nothing crashes', async () => {
    const c = await start(1);
    const errors: number[] = [];
    c.nodes[0]!.server.on('connection-error', (info) => errors.push(info.closeCode));
    await c.redis.kill('SIGKILL');
    const raw = await RawClient.connect(`ws://127.0.0.1:${c.nodes[0]!.port}/`);
    raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    const started = Date.now();
    expect((await raw.waitForClose(5000)).code).toBe(CloseCode.TRY_AGAIN_LATER);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(errors).toContain(CloseCode.TRY_AGAIN_LATER);
    await c.redis.restart();
    const { client, received } = echoClient(c);
    client.send('back');
    await waitFor(() => received.length === 1, { timeoutMs: 10_000 });
  });
});
