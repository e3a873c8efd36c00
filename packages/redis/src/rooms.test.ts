import { ProbeClient } from '@probe/client';
import { decode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import type { Session } from '@probe/server';
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

/** Every node puts each new session in `room`. */
function joinOnOpen(c: TestCluster, room: string): void {
  for (const node of c.nodes) {
    node.server.on('session', (session, info) => {
      if (!info.moved) void session.join(room);
    });
  }
}

/** `count` members through the balancer, spread over the live nodes, each in the room. */
async function members(c: TestCluster, count: number) {
  const list = Array.from({ length: count }, () => {
    const client = new ProbeClient(c.balancer.url('/'), { reconnect: RECONNECT });
    clients.push(client);
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    return { client, received };
  });
  await waitFor(() => list.every((m) => m.client.state === 'open'), { timeoutMs: 10_000 });
  // Joining is stored before it takes effect: wait until every session is a member.
  await waitFor(
    () => c.nodes.reduce((n, node) => n + node.server.rooms.members('lobby').length, 0) === count,
    { timeoutMs: 5000 },
  );
  await sleep(50);
  return list;
}

function nodeOf(c: TestCluster, sessionId: string): TestNode | undefined {
  return c.nodes.find((node) =>
    [...node.server.sessions()].some((s: Session) => s.id === sessionId),
  );
}

describe('rooms across nodes', () => {
  it('every member on every node gets every room message once, in one room order', async () => {
    const c = await start(3);
    joinOnOpen(c, 'lobby');
    const list = await members(c, 30);
    const perNode = c.nodes.map((node) => node.server.rooms.members('lobby').length);
    expect(perNode.every((n) => n > 0)).toBe(true);
    for (let i = 1; i <= 100; i++) {
      c.nodes[i % 3]!.server.broadcast({ n: i }, { room: 'lobby' });
      if (i % 10 === 0) await sleep(5);
    }
    await waitFor(() => list.every((m) => m.received.length === 100), { timeoutMs: 10_000 });
    // One order for everyone, whatever node published: the room stream's.
    const order = list[0]!.received;
    for (const m of list) expect(m.received).toEqual(order);
    expect([...order].map((m) => (m as { n: number }).n).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
  });

  it('members keep their rooms when they move, and miss nothing published meanwhile', async () => {
    const c = await start(3);
    joinOnOpen(c, 'lobby');
    const list = await members(c, 24);
    const victim = c.nodes[0]!;
    let published = 0;
    const publishing = (async () => {
      for (; published < 200; ) {
        published++;
        c.nodes[1 + (published % 2)]!.server.broadcast({ n: published }, { room: 'lobby' });
        await sleep(2);
      }
    })();
    await sleep(100);
    c.live.delete(victim.port);
    await victim.server.close(); // deploy: its members resume on the other two nodes
    await publishing;
    await waitFor(() => list.every((m) => m.received.length === 200), { timeoutMs: 15_000 });
    const order = list[0]!.received;
    for (const m of list) {
      expect(m.received).toEqual(order);
      expect(nodeOf(c, m.client.sessionId!)).not.toBe(victim);
    }
  });

  it('except skips one member; leave stops delivery; a node without members stops reading', async () => {
    const c = await start(2);
    joinOnOpen(c, 'lobby');
    const list = await members(c, 4);
    const [first, second] = list as [(typeof list)[0], (typeof list)[0]];
    const node = nodeOf(c, first.client.sessionId!)!;
    const session = [...node.server.sessions()].find((s) => s.id === first.client.sessionId)!;
    c.nodes[1]!.server.broadcast('not for first', { room: 'lobby', except: session });
    await waitFor(() => second.received.length === 1);
    session.leave('lobby');
    await sleep(50);
    c.nodes[0]!.server.broadcast('after leave', { room: 'lobby' });
    await waitFor(() => second.received.length === 2);
    await sleep(100);
    expect(first.received).toEqual([]);
  });

  it('volatile: only to members connected now, never numbered, stored or replayed', async () => {
    const c = await start(2);
    joinOnOpen(c, 'lobby');
    const raw = await RawClient.connect(`ws://127.0.0.1:${c.nodes[0]!.port}/`);
    const messages: unknown[] = [];
    raw.ws.on('message', (data: Buffer) => {
      const frame = decode(data);
      if (frame.type === FrameType.MESSAGE) messages.push([frame.seq, frame.data]);
    });
    raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    await waitFor(() => c.nodes[0]!.server.rooms.members('lobby').length === 1);
    await sleep(50);
    c.nodes[1]!.server.broadcast({ typing: true }, { room: 'lobby', volatile: true });
    await waitFor(() => messages.length === 1);
    expect(messages).toEqual([[0, { typing: true }]]);
    const session = [...c.nodes[0]!.server.sessions()][0]!;
    expect(session.buffered.messages).toBe(0);
    raw.close();
  });

  it('a member that fell further behind than the room keeps is ended with 4020', async () => {
    const c = await start(2, {}, { roomMaxLength: 5 });
    joinOnOpen(c, 'lobby');
    const [a, b] = c.nodes as [TestNode, TestNode];
    c.live.delete(b.port);
    const raw = await RawClient.connect(`ws://127.0.0.1:${a.port}/`);
    raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
    const welcome = await raw.nextFrame();
    if (welcome.type !== FrameType.WELCOME) throw new Error('no welcome');
    await waitFor(() => a.server.rooms.members('lobby').length === 1);
    // Its node goes away (handing the session over), then the room moves on a lot.
    raw.terminate();
    await waitFor(() => [...a.server.sessions()][0]?.state === 'suspended');
    await a.server.close();
    for (let i = 0; i < 400; i++) b.server.broadcast(i, { room: 'lobby' });
    await sleep(100);
    const back = await RawClient.connect(`ws://127.0.0.1:${b.port}/`);
    back.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: welcome.sessionId, token: welcome.token, lastSeq: 0, sentSeq: 0 },
    });
    expect((await back.waitForClose(5000)).code).toBe(4020);
  });
});
