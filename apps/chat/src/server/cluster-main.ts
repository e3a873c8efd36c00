#!/usr/bin/env node
// `npm run demo:cluster`: Redis, two chat nodes sharing it, and a balancer in front, all on
// this machine. PORT (default 3000) and HOST (default 127.0.0.1) pick the balancer's address.
import { startChatCluster } from './cluster.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got '${process.env.PORT}'`);
  process.exit(2);
}

const cluster = await startChatCluster({ port, host: process.env.HOST ?? '127.0.0.1' }).catch(
  (error: unknown) => {
    console.error(
      `Cannot start the cluster demo: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);
const names = cluster.nodes.map((node) => `${node.name} (:${node.port})`).join(' and ');
console.log(`\nProbe chat cluster is running at ${cluster.url}`);
console.log(`Nodes ${names} share sessions through ${cluster.redisUrl}; the balancer takes turns.`);
console.log(
  'Open it in two or three windows: the badge shows the node serving each one. Press "Restart this node",\n' +
    'or kill a node (kill -9 <pid>): its sessions move to the other node, and it comes back a second later.',
);
for (const node of cluster.nodes) console.log(`  node ${node.name}: pid ${node.pid}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping the nodes, the balancer and Redis…');
    void cluster.stop().then(() => process.exit(0));
  });
}
