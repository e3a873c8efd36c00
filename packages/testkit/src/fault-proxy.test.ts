import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy, type ProxiedConnection } from './fault-proxy.js';
import { connectTo, type Endpoint, startServer, type TestServer } from './tcp-endpoints.js';
import { sleep, waitFor } from './wait.js';

// How long "nothing happens" must hold to count as a blackhole rather than slowness.
const QUIET_MS = 500;

let server: TestServer;
let proxy: FaultProxy;
let clients: Endpoint[];

async function connect(): Promise<{
  client: Endpoint;
  upstream: Endpoint;
  conn: ProxiedConnection;
}> {
  const next = proxy.waitForConnection();
  const n = server.accepted.length + 1;
  const client = await connectTo(proxy.port);
  clients.push(client);
  const conn = await next;
  const upstream = await server.nth(n);
  return { client, upstream, conn };
}

describe('fault proxy', () => {
  beforeEach(async () => {
    server = await startServer();
    proxy = await createFaultProxy({ targetPort: server.port });
    clients = [];
  });

  afterEach(async () => {
    for (const { socket } of clients) socket.destroy();
    await proxy.close();
    await server.close();
  });

  it('forwards bytes both ways and counts them', async () => {
    const { client, upstream, conn } = await connect();
    client.socket.write('ping-from-client');
    await upstream.waitForText('ping-from-client');
    upstream.socket.write('pong-from-server');
    await client.waitForText('pong-from-server');

    expect(upstream.received()).toBe('ping-from-client');
    expect(client.received()).toBe('pong-from-server');
    expect(proxy.url('/x')).toBe(`ws://127.0.0.1:${proxy.port}/x`);
    expect(proxy.connections).toEqual([conn]);
    expect(proxy.latest()).toBe(conn);
    expect(conn.bytesForwarded).toBe(32);
    expect(proxy.stats).toEqual({ accepted: 1, refused: 0, bytesForwarded: 32 });
  });

  it('blackhole drops bytes both ways, keeps both sockets open, and restore forwards new bytes', async () => {
    const { client, upstream, conn } = await connect();
    client.socket.write('before|');
    await upstream.waitForText('before|');

    conn.blackhole();
    client.socket.write('lost-up|');
    upstream.socket.write('lost-down|');
    await waitFor(() => conn.bytesDropped === 18, { message: 'both chunks dropped' });
    await sleep(QUIET_MS);

    expect(upstream.received()).toBe('before|');
    expect(client.received()).toBe('');
    expect(client.events).toEqual(['connect']);
    expect(upstream.events).toEqual([]);
    expect(proxy.connections).toHaveLength(1);

    conn.restore();
    client.socket.write('after-up|');
    upstream.socket.write('after-down|');
    await upstream.waitForText('after-up|');
    await client.waitForText('after-down|');
    expect(upstream.received()).toBe('before|after-up|');
    expect(client.received()).toBe('after-down|');
  });

  it('blackhole keeps reading, so a large write completes on the sender', async () => {
    const { client, conn } = await connect();
    conn.blackhole();
    // Far more than loopback socket buffers hold: it only drains if the proxy reads on.
    const total = 32 * 1024 * 1024;
    const written = new Promise<void>((resolve) =>
      client.socket.write(Buffer.alloc(total), () => resolve()),
    );
    await written;
    await waitFor(() => conn.bytesDropped === total, { timeoutMs: 15_000, message: 'all dropped' });
    expect(conn.bytesForwarded).toBe(0);
  }, 20_000);

  it('blackhole withholds a FIN until restore', async () => {
    const { client, upstream, conn } = await connect();
    conn.blackhole();
    client.socket.end();
    await sleep(QUIET_MS);
    expect(upstream.events).toEqual([]);
    conn.restore();
    await waitFor(() => upstream.events.includes('end'), { message: 'FIN after restore' });
  });

  it('reset makes both endpoints see a connection reset', async () => {
    const { client, upstream, conn } = await connect();
    client.socket.write('x');
    await upstream.waitForText('x');

    conn.reset();
    await Promise.all([client.closed, upstream.closed, conn.closed]);
    expect(client.error?.code).toBe('ECONNRESET');
    expect(upstream.error?.code).toBe('ECONNRESET');
    expect(client.events).not.toContain('end');
    await waitFor(() => proxy.connections.length === 0, { message: 'connection forgotten' });
  });

  it('end closes both endpoints cleanly with a FIN', async () => {
    const { client, upstream, conn } = await connect();
    conn.end();
    await Promise.all([client.closed, upstream.closed, conn.closed]);
    expect(client.events).toEqual(['connect', 'end', 'close']);
    expect(upstream.events).toEqual(['end', 'close']);
    expect(client.error).toBeUndefined();
    expect(upstream.error).toBeUndefined();
  });

  it('passes an endpoint reset on to the other endpoint', async () => {
    const { client, upstream } = await connect();
    client.socket.resetAndDestroy();
    await upstream.closed;
    expect(upstream.error?.code).toBe('ECONNRESET');
  });

  it('latency delays each direction by at least the configured time', async () => {
    const { client, upstream, conn } = await connect();
    conn.setLatency(150);
    expect(conn.latencyMs).toBe(150);

    let start = performance.now();
    client.socket.write('up');
    await upstream.waitForText('up');
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);

    start = performance.now();
    upstream.socket.write('down');
    await client.waitForText('down');
    expect(performance.now() - start).toBeGreaterThanOrEqual(150);
  });

  it('latency keeps byte order, also when it is lowered mid-stream', async () => {
    const { client, upstream, conn } = await connect();
    conn.setLatency(200);
    const start = performance.now();
    client.socket.write('first|');
    await sleep(20);
    conn.setLatency(0);
    client.socket.write('second|');
    await upstream.waitForText('second|');
    // The later, undelayed chunk waited for the earlier one instead of overtaking it.
    expect(performance.now() - start).toBeGreaterThanOrEqual(200);
    expect(upstream.received()).toBe('first|second|');

    conn.setLatency(5);
    const expected = Array.from({ length: 200 }, (_, i) => `${i};`);
    for (const [i, piece] of expected.entries()) {
      if (i === 100) conn.setLatency(0);
      client.socket.write(piece);
      if (i % 20 === 0) await sleep(1);
    }
    await upstream.waitForText(expected.at(-1)!);
    expect(upstream.received()).toBe(`first|second|${expected.join('')}`);
  });

  it('refuse resets new connections while live ones keep working', async () => {
    const { client, upstream } = await connect();
    proxy.refuse(true);

    const refused = await connectTo(proxy.port);
    clients.push(refused);
    refused.socket.write('should-not-arrive');
    await refused.closed;
    expect(refused.error?.code).toMatch(/ECONNRESET|EPIPE/);
    expect(refused.received()).toBe('');
    expect(proxy.stats.refused).toBe(1);
    expect(proxy.stats.accepted).toBe(1);

    client.socket.write('still-alive');
    await upstream.waitForText('still-alive');
    expect(server.accepted).toHaveLength(1);
    expect(upstream.received()).toBe('still-alive');

    proxy.refuse(false);
    const again = await connect();
    again.client.socket.write('welcome-back');
    await again.upstream.waitForText('welcome-back');
    expect(proxy.stats.accepted).toBe(2);
  });

  it('resets the client when the target refuses the connection', async () => {
    const deadTarget = await startServer();
    const port = deadTarget.port;
    await deadTarget.close();
    const orphan = await createFaultProxy({ targetPort: port });
    try {
      const client = await connectTo(orphan.port);
      await client.closed;
      expect(client.received()).toBe('');
      expect(orphan.connections).toHaveLength(0);
    } finally {
      await orphan.close();
    }
  });

  it('close() ends every connection and stops listening', async () => {
    const a = await connect();
    const b = await connect();
    a.conn.blackhole();
    b.conn.setLatency(1000);
    b.client.socket.write('pending');
    const waiting = proxy.waitForConnection(10_000).catch((error: Error) => error);

    await proxy.close();
    expect(await waiting).toBeInstanceOf(Error);
    expect(((await waiting) as Error).message).toMatch(/closed/);
    await Promise.all([a.client.closed, a.upstream.closed, b.client.closed, b.upstream.closed]);
    expect(proxy.connections).toHaveLength(0);
    expect(b.upstream.received()).toBe('');

    const late = await connectTo(proxy.port);
    await late.closed;
    expect(late.error?.code).toBe('ECONNREFUSED');
    await proxy.close();
  });

  it('waitForConnection rejects after its timeout', async () => {
    await expect(proxy.waitForConnection(50)).rejects.toThrow(/no new connection within 50 ms/);
  });
});
