import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Balancer, createBalancer } from './balancer.js';
import { connectTo, type Endpoint, startServer, type TestServer, track } from './tcp-endpoints.js';
import { waitFor } from './wait.js';

let servers: TestServer[];
let targets: number[];
let balancer: Balancer;
let clients: Endpoint[];

/** A port nothing listens on: bound once, then released. */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function connect(): Promise<Endpoint> {
  const client = await connectTo(balancer.port);
  clients.push(client);
  return client;
}

/** The index of the server a client's connection reached, from an echo of a unique text. */
async function landedOn(client: Endpoint, text: string): Promise<number> {
  client.socket.write(text);
  await client.waitForText(text);
  const index = servers.findIndex((s) => s.accepted.some((e) => e.received().includes(text)));
  expect(index).toBeGreaterThanOrEqual(0);
  return index;
}

describe('balancer', () => {
  beforeEach(async () => {
    servers = await Promise.all([startServer(true), startServer(true), startServer(true)]);
    targets = servers.map((s) => s.port);
    balancer = await createBalancer({ targets: () => targets });
    clients = [];
  });

  afterEach(async () => {
    for (const { socket } of clients) socket.destroy();
    await balancer.close();
    await Promise.all(servers.map((s) => s.close()));
  });

  it('sends new connections to the targets in turn and pipes bytes both ways', async () => {
    const landed: number[] = [];
    for (let i = 0; i < 6; i++) landed.push(await landedOn(await connect(), `hello-${i}|`));
    expect(landed).toEqual([0, 1, 2, 0, 1, 2]);
    expect(balancer.url('/x')).toBe(`ws://127.0.0.1:${balancer.port}/x`);
    const { byTarget, ...counts } = balancer.stats();
    expect(counts).toEqual({ accepted: 6, forwarded: 6, targetFailures: 0, dropped: 0, live: 6 });
    expect(byTarget).toEqual({ [targets[0]!]: 2, [targets[1]!]: 2, [targets[2]!]: 2 });
  });

  it('skips a target that refuses the connection', async () => {
    targets = [servers[0]!.port, await deadPort(), servers[2]!.port];
    const landed: number[] = [];
    for (let i = 0; i < 4; i++) landed.push(await landedOn(await connect(), `skip-${i}|`));
    // Round robin starts at 0, 1 (dead → 2), 2, 0.
    expect(landed).toEqual([0, 2, 2, 0]);
    expect(balancer.stats()).toMatchObject({ forwarded: 4, targetFailures: 1, dropped: 0 });
  });

  it('closes the client connection when no target takes it', async () => {
    targets = [await deadPort(), await deadPort()];
    const client = await connect();
    await client.closed;
    expect(balancer.stats()).toMatchObject({ accepted: 1, forwarded: 0, dropped: 1 });
    targets = [];
    await (await connect()).closed;
    expect(balancer.stats()).toMatchObject({ accepted: 2, dropped: 2 });
  });

  it('follows the target list as it changes', async () => {
    targets = [servers[1]!.port];
    expect(await landedOn(await connect(), 'a|')).toBe(1);
    expect(await landedOn(await connect(), 'b|')).toBe(1);
    targets = [servers[2]!.port];
    expect(await landedOn(await connect(), 'c|')).toBe(2);
  });

  it('keeps bytes a client sends before the target connection is up', async () => {
    // Written before the connection is even up, so it waits in the balancer for the target.
    const client = track(net.connect({ port: balancer.port, host: '127.0.0.1' }));
    clients.push(client);
    client.socket.write('early|');
    await waitFor(() => servers[0]!.accepted[0]?.received() === 'early|', {
      message: 'early bytes forwarded',
    });
  });

  it('closes the client side when the target closes, and the target side when the client does', async () => {
    const first = await connect();
    await landedOn(first, 'one|');
    const upstream = await servers[0]!.nth(1);
    upstream.socket.end();
    await first.closed;

    const second = await connect();
    await landedOn(second, 'two|');
    const upstream2 = await servers[1]!.nth(1);
    second.socket.destroy();
    await upstream2.closed;
    await waitFor(() => balancer.stats().live === 0, { message: 'no live connection' });
  });

  it('resets the client side when the target side is reset', async () => {
    const client = await connect();
    await landedOn(client, 'x|');
    (await servers[0]!.nth(1)).socket.resetAndDestroy();
    await client.closed;
    expect(client.events).toContain('error:ECONNRESET');
  });

  it('close() ends every connection and stops listening', async () => {
    const a = await connect();
    const b = await connect();
    await landedOn(a, 'a|');
    await landedOn(b, 'b|');
    await balancer.close();
    await Promise.all([a.closed, b.closed]);
    const late = await connectTo(balancer.port);
    expect(late.error?.code).toBe('ECONNREFUSED');
    await balancer.close();
  });
});
