import { ProbeClient, type UntypedSchema } from '@probe/client';
import type { Session } from '@probe/server';
import { sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster, type TestNode } from './test-nodes.js';

type AnyClient = ProbeClient<unknown, unknown, UntypedSchema>;
type AnySession = Session<unknown, unknown, unknown, UntypedSchema>;

let cluster: TestCluster | undefined;
const clients: ProbeClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await cluster?.close();
  cluster = undefined;
});

const RECONNECT = { initialDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 2000 };

/** Every node answers 'square' requests and counts each run per request number. */
function answerOn(nodes: TestNode[], runs: Map<number, number>): void {
  for (const node of nodes) {
    node.server.on('session', (session) => {
      const s = session as unknown as AnySession;
      s.handle('square', (n) => {
        runs.set(n as number, (runs.get(n as number) ?? 0) + 1);
        return (n as number) ** 2;
      });
      s.on('chat:post', (text) => s.emit('chat:ack', text));
    });
  }
}

function client(c: TestCluster): AnyClient {
  const probe = new ProbeClient(c.balancer.url('/'), { reconnect: RECONNECT });
  clients.push(probe);
  return probe as unknown as AnyClient;
}

describe('requests and named events with a shared store', () => {
  it('a deploy moves the session to another node: every request answered once, every event once', async () => {
    cluster = await startCluster(2, { sessionTtlMs: 2000 }, { endedTtlMs: 300 });
    const c = cluster;
    const baseline = await c.redis.dbsize();
    const [a, b] = c.nodes as [TestNode, TestNode];
    const runs = new Map<number, number>();
    answerOn(c.nodes, runs);
    c.live.delete(b.port);
    const user = client(c);
    const acks: unknown[] = [];
    user.on('chat:ack', (text) => acks.push(text));
    await waitFor(() => user.state === 'open');
    c.live.delete(a.port);
    c.live.add(b.port);
    const replies: Promise<unknown>[] = [];
    const sending = (async () => {
      for (let n = 1; n <= 60; n++) {
        replies.push(user.emitWithAck('square', n, { timeoutMs: 15_000 }));
        user.emit('chat:post', `line ${n}`);
        await sleep(3);
      }
    })();
    await sleep(40);
    await a.server.close();
    await sending;
    expect(await Promise.all(replies)).toEqual(Array.from({ length: 60 }, (_, i) => (i + 1) ** 2));
    expect(runs.size).toBe(60);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    await waitFor(() => acks.length === 60, { timeoutMs: 5000 });
    expect(acks).toEqual(Array.from({ length: 60 }, (_, i) => `line ${i + 1}`));
    expect(b.sessions.filter((s) => s.moved)).toHaveLength(1);
    // Ended cleanly, the session leaves nothing behind but its resume counter, which expires
    // with its one-minute window: every other key is gone (node liveness keys aside).
    expect(await c.redis.dbsize()).toBeGreaterThan(baseline);
    user.close();
    const left = async () =>
      ((await c.redis.command('KEYS', '*')) as string[]).filter(
        (k) => !k.startsWith('probe:node:'),
      );
    await waitFor(async () => (await left()).length === 1, { timeoutMs: 8000 });
    const [counter] = await left();
    expect(counter).toMatch(/^probe:\{.+\}:r$/);
    const ttl = Number(await c.redis.command('PTTL', counter!));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('a broadcast event reaches room members on every node once, in order', async () => {
    cluster = await startCluster(2);
    const c = cluster;
    const [a, b] = c.nodes as [TestNode, TestNode];
    for (const node of c.nodes) {
      node.server.on('session', (session) => void session.join('lobby'));
    }
    c.live.delete(b.port);
    const onA = client(c);
    c.live.delete(a.port);
    c.live.add(b.port);
    const onB = client(c);
    await waitFor(() => onA.state === 'open' && onB.state === 'open');
    await waitFor(
      () => a.server.rooms.members('lobby').length + b.server.rooms.members('lobby').length === 2,
    );
    const got: [string, unknown][] = [];
    onA.on('news', (n) => got.push(['a', n]));
    onB.on('news', (n) => got.push(['b', n]));
    onA.on('message', (m) => got.push(['a plain', m]));
    const server = a.server as unknown as { broadcast(d: unknown, o: object): number };
    for (let n = 1; n <= 20; n++) server.broadcast(n, { room: 'lobby', event: 'news' });
    await waitFor(() => got.length === 40, { timeoutMs: 5000 });
    const ofA = got.filter(([who]) => who === 'a').map(([, n]) => n);
    const ofB = got.filter(([who]) => who === 'b').map(([, n]) => n);
    const numbers = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(ofA).toEqual(numbers);
    expect(ofB).toEqual(numbers);
  });
});
