#!/usr/bin/env node
// `npm start`: the built demo. PORT (default 3000) and HOST (default 127.0.0.1) pick the address.
import { fileURLToPath } from 'node:url';
import { startChatServer } from './app.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number, got '${process.env.PORT}'`);
  process.exit(2);
}
const host = process.env.HOST ?? '127.0.0.1';
// This file runs as dist/server/index.js; the web build sits beside it in dist/web.
const webRoot = fileURLToPath(new URL('../web/', import.meta.url));

const server = await startChatServer({ port, host, webRoot }).catch((error: unknown) => {
  console.error(`Cannot listen on ${host}:${port}: ${String(error)}`);
  process.exit(1);
});
console.log(`Probe chat is running at ${server.url}`);
console.log('Open it in two windows, pick nicknames, then press "Cut" in one of them.');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log('\nStopping…');
    void server.close().then(() => process.exit(0));
  });
}
