import { ProbeClient, RequestError } from '@probe/client';
import {
  type Balancer,
  createBalancer,
  type RedisServer,
  startRedis,
  waitFor,
} from '@probe/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ChatServer,
  type ChatServerOptions,
  PROBE_PATH,
  startChatServer,
} from '../src/server/app.js';
import { RESTART_REFUSED } from '../src/server/chat.js';
import type { SharedChat } from '../src/server/shared-chat.js';
import type { ChatSchema, ServerEventName } from '../src/shared/schema.js';
import { ChatTestClient, FAST_PROBE, FAST_RECONNECT, startChatHarness } from './harness.js';

// Two chat nodes in this process sharing a real redis-server, as two processes would: every
// node has its own Redis connections. The browser test (cluster.browser.test.ts) runs them as
// separate processes and kills one with SIGKILL.

const FAST_CLUSTER = { heartbeatMs: 200, handoverTimeoutMs: 500, presenceRefreshMs: 200 };
/** Generous: Redis, two nodes and their clients share the machine's cores with other tests. */
const WAIT_MS = 15_000;

let redis: RedisServer;
let balancer: Balancer | undefined;
const nodes: ChatServer<SharedChat>[] = [];
const clients: ChatTestClient[] = [];

beforeEach(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.client.close();
  await balancer?.close();
  balancer = undefined;
  for (const node of nodes.splice(0)) await node.close().catch(() => {});
  await redis.stop();
});

async function startNode(
  name: string,
  options: Omit<ChatServerOptions, 'redisUrl'> = {},
): Promise<ChatServer<SharedChat>> {
  const node = await startChatServer({
    port: 0,
    host: '127.0.0.1',
    nodeName: name,
    ...options,
    redisUrl: redis.url,
    probe: FAST_PROBE,
    cluster: FAST_CLUSTER,
  });
  nodes.push(node);
  return node;
}

function wsUrl(port: number): string {
  return `ws://127.0.0.1:${port}${PROBE_PATH}`;
}

/** A test client whose waits allow for a loaded machine. */
class ClusterTestClient extends ChatTestClient {
  override next<K extends ServerEventName>(
    event: K,
    match: (payload: ChatSchema['serverEvents'][K]) => boolean = () => true,
    timeoutMs = WAIT_MS,
  ): Promise<ChatSchema['serverEvents'][K]> {
    return super.next(event, match, timeoutMs);
  }
}

function connect(nick: string, url: string): ChatTestClient {
  const client = new ProbeClient<unknown, unknown, ChatSchema>(url, {
    // A key, as the page has: a re-send is recognised by author and client id.
    auth: { nick, key: `${nick}-key-0123456789abcdef` },
    reconnect: FAST_RECONNECT,
  });
  const test = new ClusterTestClient(client);
  clients.push(test);
  return test;
}

describe('chat cluster (two nodes, one Redis)', { timeout: 40_000 }, () => {
  it('shares history and presence, and delivers every line to members on both nodes once, in one order', async () => {
    const a = await startNode('A');
    const b = await startNode('B');
    const ada = connect('ada', wsUrl(a.port));
    const bob = connect('bob', wsUrl(b.port));
    expect(await ada.next('node')).toEqual({
      name: 'A',
      id: a.probe.nodeId,
      restartable: false,
    });
    expect((await bob.next('node')).name).toBe('B');

    await ada.join('general');
    const joined = await bob.join('general');
    expect(joined.members.map((m) => [m.nick, m.status]).sort()).toEqual([
      ['ada', 'online'],
      ['bob', 'online'],
    ]);
    await ada.next('presence', (m) => m.member.nick === 'bob' && m.member.status === 'online');

    for (let i = 1; i <= 5; i++) {
      ada.post('general', `a${i}`, `a${i}`);
      bob.post('general', `b${i}`, `b${i}`);
    }
    await waitFor(() => ada.texts('general').length === 10 && bob.texts('general').length === 10, {
      timeoutMs: WAIT_MS,
    });
    const seen = (client: ChatTestClient) => client.all('posted').map((m) => `${m.seq}:${m.text}`);
    // One room order for every member, wherever it is served. Lines posted at the same moment
    // on two nodes may arrive in the other order than their numbers; the page shows them by
    // number, so every page shows the same list.
    expect(seen(ada)).toEqual(seen(bob));
    expect(
      ada
        .all('posted')
        .map((m) => m.seq)
        .sort((x, y) => x - y),
    ).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(ada.texts('general').filter((t) => t.startsWith('a'))).toEqual([
      'a1',
      'a2',
      'a3',
      'a4',
      'a5',
    ]);

    // Stored once, in Redis: both nodes see the same history, and a late joiner on A gets it.
    expect((await a.chat.history('general')).map((m) => m.text)).toEqual(
      (await b.chat.history('general')).map((m) => m.text),
    );
    const cy = connect('cy', wsUrl(a.port));
    const late = await cy.join('general');
    expect(late.history.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(late.members).toHaveLength(3);

    const info = await fetch(`http://127.0.0.1:${b.port}/api/info`).then((r) => r.json());
    expect(info.node).toEqual({ name: 'B', id: b.probe.nodeId });
    expect(info.rooms).toContainEqual({ name: 'general', members: 3 });

    // A session that ends leaves every node's member list.
    const bobId = (await bob.next('welcome')).id;
    bob.client.close();
    await ada.next('left', (m) => m.id === bobId);
    expect((await a.chat.membersOf('general')).map((m) => m.nick).sort()).toEqual(['ada', 'cy']);
  });

  it('relays typing to the room on the other node, volatile, except to the typer', async () => {
    const a = await startNode('A');
    const b = await startNode('B');
    const ada = connect('ada', wsUrl(a.port));
    const bob = connect('bob', wsUrl(b.port));
    await ada.join('general');
    await bob.join('general');
    const { id } = await ada.next('welcome');
    ada.client.emit('typing', { room: 'general' }, { volatile: true });
    expect(await bob.next('typing')).toEqual({ room: 'general', member: { id, nick: 'ada' } });
    ada.post('general', 'after', 'after typing');
    await ada.next('posted');
    expect(ada.all('typing')).toEqual([]);
  });

  it('stores a re-sent message once across nodes (same author and client id)', async () => {
    const a = await startNode('A');
    const b = await startNode('B');
    const first = connect('ada', wsUrl(a.port));
    void first.join('general');
    first.post('general', 'same', 'once');
    await first.next('posted');
    // The same tab (same key) with a new session on the other node re-sends it.
    const again = connect('ada', wsUrl(b.port));
    await again.join('general');
    again.post('general', 'same', 'once');
    const echo = await again.next('posted');
    expect(echo).toMatchObject({ seq: 1, text: 'once', cid: 'same' });
    expect(await b.chat.history('general')).toHaveLength(1);
  });

  it('hands sessions over on a graceful close: the client resumes on the other node, told where it moved, and nothing is lost', async () => {
    const a = await startNode('A');
    const b = await startNode('B');
    const live = new Set([a.port]);
    balancer = await createBalancer({ targets: () => [...live] });
    const ada = connect('ada', balancer.url(PROBE_PATH));
    const bob = connect('bob', wsUrl(b.port));
    await Promise.all([ada.join('general'), bob.join('general')]);
    ada.post('general', 'before', 'before');
    await bob.next('posted');
    live.add(b.port);

    const aId = a.probe.nodeId;
    await a.close();
    live.delete(a.port);
    const moved = await ada.next('node', (m) => m.id !== aId);
    expect(moved.name).toBe('B');
    expect(ada.all('resumed').at(-1)?.reason).toBe('moved');
    ada.post('general', 'after', 'after');
    await waitFor(() => bob.texts('general').length === 2 && ada.texts('general').length === 2, {
      timeoutMs: WAIT_MS,
    });
    expect(bob.texts('general')).toEqual(['before', 'after']);
    expect(ada.texts('general')).toEqual(['before', 'after']);
    expect(ada.all('welcome')).toHaveLength(1);
    expect((await b.chat.membersOf('general')).map((m) => [m.nick, m.status]).sort()).toEqual([
      ['ada', 'online'],
      ['bob', 'online'],
    ]);
  });

  it('marks members nobody serves any more as reconnecting, then removes them', async () => {
    const a = await startNode('A');
    const ada = connect('ada', wsUrl(a.port));
    await ada.join('general');
    // Entries of a node that died: one a few seconds old, one older than any session lives.
    const key = 'chat:{general}:presence';
    await redis.command('HSET', key, 'ghost1', `${Date.now() - 3000}\tonline\tX\tghost one`);
    await redis.command('HSET', key, 'ghost2', `${Date.now() - 60_000}\tonline\tX\tghost two`);
    const away = await ada.next('presence', (m) => m.member.id === 'ghost1');
    expect(away.member).toEqual({ id: 'ghost1', nick: 'ghost one', status: 'reconnecting' });
    await ada.next('left', (m) => m.id === 'ghost2');
    expect((await a.chat.membersOf('general')).map((m) => m.id).sort()).toEqual(
      [(await ada.next('welcome')).id, 'ghost1'].sort(),
    );
  });

  it('restarts a node only when asked through a node that allows it', async () => {
    const single = await startChatHarness();
    try {
      const solo = single.connect('solo');
      const refused = solo.client.emitWithAck('restart-node', null, { timeoutMs: WAIT_MS });
      await expect(refused).rejects.toBeInstanceOf(RequestError);
      await expect(refused).rejects.toMatchObject({ code: 'refused', message: RESTART_REFUSED });
    } finally {
      await single.close();
    }

    const onRestartRequest = vi.fn();
    const a = await startNode('A', { onRestartRequest });
    const b = await startNode('B');
    const ada = connect('ada', wsUrl(a.port));
    expect((await ada.next('node')).restartable).toBe(true);
    expect(await ada.client.emitWithAck('restart-node', null)).toEqual({ node: 'A' });
    await waitFor(() => onRestartRequest.mock.calls.length === 1, { timeoutMs: WAIT_MS });

    const bob = connect('bob', wsUrl(b.port));
    expect((await bob.next('node')).restartable).toBe(false);
    await expect(bob.client.emitWithAck('restart-node', null)).rejects.toMatchObject({
      code: 'refused',
      message: 'this node cannot be restarted from the page',
    });
  });
});
