// One Probe server node of the cluster suite, run as its own process (forked through tsx by
// node-process.ts). It imports @probe/server and @probe/redis as an application would, from
// their built packages: run `pnpm turbo run build` first (`npm test` does).
//
// argv: <redis url> <probeIntervalMs> <probeTimeoutMs> <sessionTtlMs>
// It reports to the parent over IPC (see reports.ts) and echoes every delivery, redelivered
// ones included, so the test sees both directions. SIGTERM is a deploy: the server closes
// (clients resume on other nodes), then the store, then the process exits 0.

import { RedisSessionStore } from '@probe/redis';
import { ProbeServer } from '@probe/server';
import type { EchoMessage, NodeReport, NumberedMessage } from './reports.js';

/** Longest a graceful close may take before the process gives up and exits 1. */
const CLOSE_TIMEOUT_MS = 20_000;
/** Longest a node may live, whatever happens to the test that started it. */
const MAX_LIFETIME_MS = 15 * 60_000;

const send = process.send?.bind(process);
if (!send) throw new Error('cluster node: run me with child_process.fork (I report over IPC)');
const report = (message: NodeReport) => send(message);

const [url, probeIntervalMs, probeTimeoutMs, sessionTtlMs] = process.argv.slice(2);
if (!url) throw new Error('cluster node: usage: node.ts <redis url> <interval> <timeout> <ttl>');

const store = new RedisSessionStore({ url });
const server = new ProbeServer({
  store,
  probeIntervalMs: Number(probeIntervalMs),
  probeTimeoutMs: Number(probeTimeoutMs),
  sessionTtlMs: Number(sessionTtlMs),
});
const node = server.nodeId;

server.on('session', (session, info) => {
  report({ session: session.id, moved: info.moved, node });
  session.on('message', (data, meta) => {
    const { c, n } = data as NumberedMessage;
    // Reported before the echo is sent: a node killed right after still leaves the report.
    report({
      delivered: c,
      n,
      redelivered: meta.redelivered,
      node,
      at: Number(process.hrtime.bigint() / 1000n),
    });
    session.send({ echo: n, redelivered: meta.redelivered } satisfies EchoMessage);
  });
});
server.on('error', (error: unknown) => report({ error: String(error), node }));

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS).unref();
  void (async () => {
    await server.close();
    await store.close();
    process.exit(0);
  })().catch((error: unknown) => {
    console.error('cluster node: close failed', error);
    process.exit(1);
  });
});
// The test process is gone: never linger.
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();

const { port } = await server.listen(0, '127.0.0.1');
report({ ready: true, port, nodeId: node });
