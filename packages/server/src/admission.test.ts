import { createServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { CloseCode, FrameType } from '@probe/protocol';
import { RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { ProbeServer } from './server.js';
import { listeningServer, rawSession, tryHello } from './test-server.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function started(options: Parameters<typeof listeningServer>[0] = {}) {
  const s = await listeningServer(options);
  cleanup.push(() => s.server.close());
  return { ...s, port: Number(new URL(s.url).port) };
}

describe('maxSessions', () => {
  it('refuses a new session beyond the limit with 1013 after the hello, and counts suspended ones', async () => {
    const s = await started({ maxSessions: 2 });
    const first = await rawSession(s.url);
    const second = await rawSession(s.url);
    // A suspended session still holds its place.
    second.raw.terminate();
    await waitFor(() => s.sessions[1]?.state === 'suspended');

    const third = await tryHello(s.url);
    expect(third.welcome).toBeUndefined();
    expect(third.refused).toMatchObject({
      code: CloseCode.TRY_AGAIN_LATER,
      reason: 'server is full',
    });
    expect(s.errors.at(-1)).toMatchObject({
      code: 'server-full',
      closeCode: CloseCode.TRY_AGAIN_LATER,
    });
    expect(s.server.sessionCount).toBe(2);

    // Once a session ends, there is room again.
    s.sessions[0]!.close();
    await first.raw.waitForClose();
    const fourth = await tryHello(s.url);
    expect(fourth.welcome?.resumed).toBe(false);
    fourth.raw.close();
  });

  it('still lets a session over the limit be resumed', async () => {
    const s = await started({ maxSessions: 1 });
    const { raw, welcome } = await rawSession(s.url);
    raw.terminate();
    await waitFor(() => s.sessions[0]?.state === 'suspended');
    const resumed = await tryHello(s.url, {
      sessionId: welcome.sessionId,
      token: welcome.token,
      lastSeq: 0,
      sentSeq: 0,
    });
    expect(resumed.welcome?.resumed).toBe(true);
    resumed.raw.close();
  });
});

describe('maxConnectionsPerAddress', () => {
  it('answers HTTP 429 before the upgrade beyond the limit, and admits again once one closes', async () => {
    const s = await started({ maxConnectionsPerAddress: 2 });
    const a = await RawClient.connect(s.url);
    const b = await RawClient.connect(s.url);
    await expect(RawClient.connect(s.url)).rejects.toThrow(/HTTP 429/);
    expect(s.server.stats().connections).toBe(2);

    a.close();
    await waitFor(() => s.server.stats().connections === 1);
    const c = await RawClient.connect(s.url);
    expect(s.server.stats().connections).toBe(2);
    b.close();
    c.close();
  });

  it('counts connections refused after the upgrade as gone', async () => {
    const s = await started({ maxConnectionsPerAddress: 1, handshakeTimeoutMs: 100 });
    for (let i = 0; i < 3; i++) {
      const silent = await RawClient.connect(s.url);
      expect((await silent.waitForClose()).code).toBe(CloseCode.HANDSHAKE_TIMEOUT);
      await waitFor(() => s.server.stats().connections === 0);
    }
  });
});

/** Sends the start of an upgrade request and never finishes its headers. */
function slowUpgrade(port: number) {
  const socket = connect(port, '127.0.0.1');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n',
  );
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  return { socket, closed };
}

async function listen(http: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return (http.address() as AddressInfo).port;
}

describe('an attached HTTP server', () => {
  const ways: [string, (http: HttpServer) => ProbeServer][] = [
    [
      'new ProbeServer({ server })',
      (http) => new ProbeServer({ server: http, handshakeTimeoutMs: 300 }),
    ],
    [
      'attach()',
      (http) => {
        const server = new ProbeServer({ handshakeTimeoutMs: 300 });
        server.attach(http);
        return server;
      },
    ],
  ];
  for (const [name, attach] of ways) {
    it(`cuts an upgrade request whose headers never finish within about handshakeTimeoutMs (${name})`, async () => {
      // Node checks header timeouts every connectionsCheckingInterval (30 s by default).
      const http = createServer({ connectionsCheckingInterval: 100 });
      const server = attach(http);
      cleanup.push(() => server.close());
      const port = await listen(http);
      expect(http.headersTimeout).toBeLessThanOrEqual(300);
      // The app's own requests keep their body timeout: only the headers are bounded.
      expect(http.requestTimeout).toBe(300_000);

      const slow = slowUpgrade(port);
      // Node's own default would hold it for 60 s.
      const outcome = await Promise.race([
        slow.closed,
        new Promise<'still open'>((resolve) => setTimeout(resolve, 3000, 'still open')),
      ]);
      slow.socket.destroy();
      expect(outcome).not.toBe('still open');
      expect(outcome).toMatch(/^HTTP\/1\.1 408/);

      // A complete upgrade on the same server still works.
      const { raw, welcome } = await rawSession(`ws://127.0.0.1:${port}/`);
      expect(welcome.resumed).toBe(false);
      raw.close();
    });
  }

  it('keeps header timeouts that are already shorter', async () => {
    const http = createServer();
    http.headersTimeout = 100;
    http.requestTimeout = 150;
    const server = new ProbeServer({ server: http, handshakeTimeoutMs: 5000 });
    cleanup.push(() => server.close());
    expect(http.headersTimeout).toBe(100);
    expect(http.requestTimeout).toBe(150);
  });
});

describe('allowOrigin', () => {
  it("defaults to 'same-origin': another host's Origin gets HTTP 403 before any upgrade", async () => {
    const s = await started();
    for (const origin of ['https://evil.example', `http://127.0.0.1:${s.port + 1}`, 'null']) {
      await expect(RawClient.connect(s.url, { headers: { origin } })).rejects.toThrow(/HTTP 403/);
    }
    expect(s.server.stats().connections).toBe(0);
    expect(s.sessions).toHaveLength(0);
  });

  it("'same-origin' accepts the same host, and a request without an Origin header", async () => {
    const s = await started();
    const same = await tryHello(s.url, null, { headers: { origin: `http://127.0.0.1:${s.port}` } });
    expect(same.welcome?.type).toBe(FrameType.WELCOME);
    const none = await tryHello(s.url);
    expect(none.welcome?.type).toBe(FrameType.WELCOME);
    same.raw.close();
    none.raw.close();
  });

  it("'any' accepts every origin", async () => {
    const s = await started({ allowOrigin: 'any' });
    const evil = await tryHello(s.url, null, { headers: { origin: 'https://evil.example' } });
    expect(evil.welcome?.type).toBe(FrameType.WELCOME);
    evil.raw.close();
  });

  it('a list accepts exactly the origins it names (and requests without an Origin header)', async () => {
    const s = await started({ allowOrigin: ['https://a.example'] });
    const listed = await tryHello(s.url, null, { headers: { origin: 'https://a.example' } });
    expect(listed.welcome?.type).toBe(FrameType.WELCOME);
    for (const origin of ['https://b.example', 'http://a.example', `http://127.0.0.1:${s.port}`]) {
      await expect(RawClient.connect(s.url, { headers: { origin } })).rejects.toThrow(/HTTP 403/);
    }
    const none = await tryHello(s.url);
    expect(none.welcome?.type).toBe(FrameType.WELCOME);
    listed.raw.close();
    none.raw.close();
  });
});

describe('what a session keeps of its upgrade request', () => {
  it('keeps the headers named in keepHeaders and the remote address', async () => {
    const s = await started({ keepHeaders: ['x-user'] });
    const { raw } = await tryHello(s.url, null, {
      headers: { 'x-user': 'alice', cookie: 'sid=secret' },
    });
    const session = await waitFor(() => s.sessions[0]);
    expect(session.headers['x-user']).toBe('alice');
    expect(session.headers).not.toHaveProperty('cookie');
    expect(session.remoteAddress).toBe('127.0.0.1');
    raw.close();
  });

  it('keeps no header by default', async () => {
    const s = await started();
    const { raw } = await tryHello(s.url, null, { headers: { 'x-user': 'alice' } });
    const session = await waitFor(() => s.sessions[0]);
    expect(session.headers).toEqual({});
    raw.close();
  });
});

describe('refusals before the upgrade', () => {
  it('are logged, and an allowOrigin that throws refuses instead of crashing', async () => {
    const errors: unknown[] = [];
    const s = await started({
      allowOrigin: () => {
        throw new Error('origin check broke');
      },
    });
    s.server.on('error', (error) => errors.push(error));
    await expect(
      RawClient.connect(s.url, { headers: { origin: 'https://a.example' } }),
    ).rejects.toThrow(/HTTP 403/);
    expect(errors).toEqual([expect.objectContaining({ message: 'origin check broke' })]);
    expect(s.errors.at(-1)).toMatchObject({ code: 'forbidden-origin', closeCode: 4504 });
  });
});
