#!/usr/bin/env node
// `npm start`: the built demo. PORT (default 3000) and HOST (default 127.0.0.1) pick the address.
// With REDIS_URL it runs as one node of a cluster (`npm run demo:cluster` starts two of them
// behind a balancer): sessions, history and presence are shared through that Redis, and
// CHAT_NODE_NAME names the node on the page. CHAT_WEB_ROOT serves the web client from another
// folder than the dist/web beside this file. LOG_LEVEL (debug, info, warn, error, silent; default
// info) sets what is logged; Probe's metrics are served at /metrics in the Prometheus format.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChatServer } from './app.js';
import { consoleLogger, isLogLevel } from './telemetry.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got '${process.env.PORT}'`);
  process.exit(2);
}
const host = process.env.HOST ?? '127.0.0.1';
const level = process.env.LOG_LEVEL || 'info';
if (!isLogLevel(level)) {
  console.error(`LOG_LEVEL must be debug, info, warn, error or silent, got '${level}'`);
  process.exit(2);
}
const nodeName = process.env.CHAT_NODE_NAME || undefined;
const redisUrl = process.env.REDIS_URL || undefined;
// This file runs as dist/server/index.js; the web build sits beside it in dist/web.
const webRoot = process.env.CHAT_WEB_ROOT
  ? resolve(process.env.CHAT_WEB_ROOT)
  : fileURLToPath(new URL('../web/', import.meta.url));

let stopping = false;
function stop(why: string): void {
  if (stopping) return;
  stopping = true;
  console.log(why);
  void server.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('Close failed:', error);
      process.exit(1);
    },
  );
}

const server = await startChatServer({
  port,
  host,
  webRoot,
  redisUrl,
  nodeName,
  logger: consoleLogger({ level, name: nodeName ? `chat node ${nodeName}` : 'chat' }),
  onRestartRequest: redisUrl
    ? () => stop('Restart requested from the page: handing the sessions over, then exiting.')
    : undefined,
}).catch((error: unknown) => {
  const what = redisUrl ? 'start the node' : 'listen';
  console.error(`Cannot ${what} on ${host}:${port}: ${String(error)}`);
  process.exit(1);
});

if (server.node) {
  console.log(
    `Probe chat node ${server.node.name} (${server.node.id}) is running at ${server.url}, sharing sessions through ${redisUrl}`,
  );
} else {
  console.log(`Probe chat is running at ${server.url}`);
  console.log(`Metrics (Prometheus): ${server.url}metrics`);
  console.log('Open it in two windows, pick nicknames, then press "Cut" in one of them.');
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stop('\nStopping…');
  });
}
// Started by the cluster launcher: leave when it does, however it ended.
if (process.env.CHAT_EXIT_WITH_LAUNCHER === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
