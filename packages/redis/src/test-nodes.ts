import { ProbeServer, type ProbeServerOptions, type Session } from '@probe/server';
import { type Balancer, createBalancer, type RedisServer, startRedis } from '@probe/testkit';
import { RedisSessionStore, type RedisSessionStoreOptions } from './redis-session-store.js';

/** One server node with its own store connection, as a separate process would have. */
export interface TestNode {
  server: ProbeServer;
  store: RedisSessionStore;
  port: number;
  /** Sessions that opened or moved here, with the `moved` flag. */
  sessions: { session: Session; moved: boolean }[];
  /** Every client message delivered here: [session id, data, seq, redelivered]. */
  delivered: [string, unknown, number, boolean][];
  /** What the server reported on 'error' (store failures during a Redis outage, say). */
  errors: unknown[];
}

/** Real Redis, `count` nodes sharing it in this process, and a round-robin balancer. */
export interface TestCluster {
  redis: RedisServer;
  nodes: TestNode[];
  balancer: Balancer;
  /** Ports the balancer may use; remove one to stop sending new connections there. */
  live: Set<number>;
  startNode(): Promise<TestNode>;
  close(): Promise<void>;
}

export const FAST_NODE = {
  probeIntervalMs: 200,
  probeTimeoutMs: 200,
  handoverTimeoutMs: 500,
} as const;

export async function startCluster(
  count: number,
  options: ProbeServerOptions = {},
  storeOptions: Partial<RedisSessionStoreOptions> = {},
): Promise<TestCluster> {
  const redis = await startRedis();
  const live = new Set<number>();
  const nodes: TestNode[] = [];
  const balancer = await createBalancer({ targets: () => [...live] });
  const cluster: TestCluster = {
    redis,
    nodes,
    balancer,
    live,
    async startNode() {
      const store = new RedisSessionStore({ url: redis.url, heartbeatMs: 200, ...storeOptions });
      const server = new ProbeServer({ ...FAST_NODE, ...options, store });
      const node: TestNode = { server, store, port: 0, sessions: [], delivered: [], errors: [] };
      server.on('error', (error) => node.errors.push(error));
      server.on('session', (session, info) => {
        node.sessions.push({ session, moved: info.moved });
        session.on('message', (data, meta) =>
          node.delivered.push([session.id, data, meta.seq, meta.redelivered]),
        );
      });
      node.port = (await server.listen(0, '127.0.0.1')).port;
      live.add(node.port);
      nodes.push(node);
      return node;
    },
    async close() {
      await balancer.close();
      for (const node of nodes) {
        await node.server.close().catch(() => {});
        await node.store.close().catch(() => {});
      }
      await redis.stop();
    },
  };
  for (let i = 0; i < count; i++) await cluster.startNode();
  return cluster;
}
