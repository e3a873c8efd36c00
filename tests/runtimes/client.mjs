// A Probe client under another JavaScript runtime (Deno, Bun), with that runtime's own
// WebSocket, driven by tests/src/runtimes.test.ts: it sends numbered messages, a named event
// and a request across a connection the test cuts, and prints what it received as one JSON line.
import { ProbeClient } from '@probe/client';

const url = globalThis.Deno ? globalThis.Deno.args[0] : process.argv[2];
const COUNT = 50;
const client = new ProbeClient(url, {
  WebSocket: globalThis.WebSocket,
  reconnect: { initialDelayMs: 20, maxDelayMs: 200, connectTimeoutMs: 5000 },
});
const echoes = [];
const events = [];
const opens = [];
client.on('message', (data) => echoes.push(data.n));
client.on('pong', (payload) => events.push(payload));
client.on('open', (info) => opens.push(info.resumed));
client.on('error', (error) => console.error(String(error)));
const deadline = setTimeout(() => finish('timed out'), 20_000);

function finish(problem) {
  clearTimeout(deadline);
  console.log(JSON.stringify({ problem, echoes, events, opens, reply, runtime: runtimeName() }));
  client.close();
  setTimeout(() => (globalThis.Deno ? globalThis.Deno.exit(0) : process.exit(0)), 50);
}

function runtimeName() {
  if (globalThis.Deno) return `deno ${globalThis.Deno.version.deno}`;
  if (globalThis.Bun) return `bun ${globalThis.Bun.version}`;
  return 'unknown';
}

let reply = null;
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
await new Promise((resolve) => client.once('open', resolve));
for (let n = 1; n <= COUNT; n++) {
  client.send({ n });
  if (n === 10) client.emit('ping', 'before the cut');
  // The test cuts the connection when message 25 arrives: these go out around the cut.
  if (n % 10 === 0) await wait(20);
}
client.emit('ping', 'after the cut');
reply = await client.emitWithAck('double', 21, { timeoutMs: 10_000 });
while (echoes.length < COUNT || events.length < 2) await wait(20);
finish(null);
