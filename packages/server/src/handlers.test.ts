import { CloseCode, FrameType } from '@probe/protocol';
import { type CloseInfo, RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProbeServerOptions } from './options.js';
import type { ProbeServer } from './server.js';
import type { Session } from './session.js';
import {
  answerProbes,
  listeningServer,
  nextFrameOfType,
  rawSession,
  tryHello,
} from './test-server.js';

/** Text that must never reach a client. */
const SECRET = 'secret-handler-detail';

let server: ProbeServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

/** A server whose 'error' events are recorded; probes are slow unless the test wants them. */
async function start(options: ProbeServerOptions = {}) {
  const s = await listeningServer({ probeIntervalMs: 60_000, probeTimeoutMs: 60_000, ...options });
  server = s.server;
  const reported: unknown[] = [];
  s.server.on('error', (error) => reported.push(error));
  return { ...s, reported };
}

/** A raw client with every close it sees recorded. */
async function open(url: string) {
  const { raw, welcome } = await rawSession(url);
  const closes = watchCloses(raw);
  return { raw, welcome, closes };
}

function watchCloses(raw: RawClient): CloseInfo[] {
  const closes: CloseInfo[] = [];
  raw.waitForClose(60_000).then(
    (close) => closes.push(close),
    () => {},
  );
  return closes;
}

/** Client → server and server → client, on the connection the session now has. */
async function roundTrip(raw: RawClient, session: Session, seq: number) {
  const received = new Promise((resolve) => session.once('message', resolve));
  raw.sendFrame({ type: FrameType.MESSAGE, seq, data: `ping ${seq}` });
  expect(await received).toBe(`ping ${seq}`);
  session.send(`pong ${seq}`);
  const pong = await nextFrameOfType(raw, FrameType.MESSAGE);
  expect(pong.data).toBe(`pong ${seq}`);
  expect(session.state).toBe('open');
}

function boom(event: string): Error {
  return new Error(`'${event}' handler failed: ${SECRET}`);
}

describe('an application handler that throws', () => {
  it("'session': reported to 'error'; the session opens and works", async () => {
    const s = await start();
    const error = boom('session');
    s.server.on('session', () => {
      throw error;
    });
    const { raw, closes } = await open(s.url);
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    await roundTrip(raw, s.sessions[0]!, 1);
    expect(closes).toEqual([]);
    raw.close();
  });

  it("'message': reported; later messages are still delivered", async () => {
    const s = await start();
    const { raw, closes } = await open(s.url);
    const session = s.sessions[0]!;
    const error = boom('message');
    session.once('message', () => {
      throw error;
    });
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'explodes' });
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    // The failed message was delivered all the same: it is acknowledged, not redelivered.
    expect((await nextFrameOfType(raw, FrameType.ACK)).seq).toBe(1);
    await roundTrip(raw, session, 2);
    expect(closes).toEqual([]);
    raw.close();
  });

  it("'suspend' when the client drops: reported; the session is resumable", async () => {
    const s = await start();
    const { raw, welcome } = await open(s.url);
    const session = s.sessions[0]!;
    const error = boom('suspend');
    session.on('suspend', () => {
      throw error;
    });
    raw.terminate();
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    expect(session.state).toBe('suspended');
    const { sessionId, token } = welcome;
    const resumed = await rawSession(s.url, { sessionId, token, lastSeq: 0, sentSeq: 0 });
    expect(resumed.welcome.resumed).toBe(true);
    await roundTrip(resumed.raw, session, 1);
    resumed.raw.close();
  });

  it("'suspend' on a probe timeout (from the timer wheel): reported; probing goes on", async () => {
    const s = await start({ probeIntervalMs: 100, probeTimeoutMs: 300 });
    const { raw, welcome } = await open(s.url);
    const session = s.sessions[0]!;
    const reasons: string[] = [];
    const error = boom('suspend');
    session.on('suspend', (reason) => {
      reasons.push(reason);
      throw error;
    });
    // The raw client never answers probes.
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    expect(reasons).toEqual(['probe-timeout']);
    const { sessionId, token } = welcome;
    const resumed = await rawSession(s.url, { sessionId, token, lastSeq: 0, sentSeq: 0 });
    answerProbes(resumed.raw);
    await roundTrip(resumed.raw, session, 1);
    // The wheel still runs: the new connection is probed, and answering keeps it open.
    for (let i = 0; i < 3; i++) await nextFrameOfType(resumed.raw, FrameType.PROBE);
    expect(session.state).toBe('open');
    expect(reasons).toEqual(['probe-timeout']);
    raw.close();
    resumed.raw.close();
  });

  it("'resume': reported; the resumed session works", async () => {
    const s = await start();
    const { raw, welcome } = await open(s.url);
    const session = s.sessions[0]!;
    const error = boom('resume');
    session.on('resume', () => {
      throw error;
    });
    raw.terminate();
    await waitFor(() => session.state === 'suspended');
    const { sessionId, token } = welcome;
    const resumed = await rawSession(s.url, { sessionId, token, lastSeq: 0, sentSeq: 0 });
    const closes = watchCloses(resumed.raw);
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    await roundTrip(resumed.raw, session, 1);
    expect(closes).toEqual([]);
    resumed.raw.close();
  });

  it("'drain': reported; the connection stays open", async () => {
    const s = await start({ highWaterMarkBytes: 1024 });
    const { raw, closes } = await open(s.url);
    const session = s.sessions[0]!;
    const error = boom('drain');
    session.on('drain', () => {
      throw error;
    });
    expect(session.send('x'.repeat(2048))).toBe(false);
    const big = await nextFrameOfType(raw, FrameType.MESSAGE);
    raw.sendFrame({ type: FrameType.ACK, seq: big.seq });
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    expect(session.buffered.messages).toBe(0);
    await roundTrip(raw, session, 1);
    expect(closes).toEqual([]);
    raw.close();
  });

  it("'close' after the client's goodbye: reported; the session is gone, the server goes on", async () => {
    const s = await start();
    const { raw, closes } = await open(s.url);
    const error = boom('close');
    s.sessions[0]!.on('close', () => {
      throw error;
    });
    raw.sendFrame({ type: FrameType.GOODBYE, code: CloseCode.NORMAL, reason: 'bye' });
    await waitFor(() => s.reported.length === 1);
    expect(s.reported).toEqual([error]);
    await waitFor(() => closes.length === 1);
    expect(closes[0]!.reason).not.toContain(SECRET);
    expect(s.server.sessionCount).toBe(0);
    const next = await open(s.url);
    await roundTrip(next.raw, s.sessions[1]!, 1);
    next.raw.close();
  });

  it("'close' after session.close(): reported, not thrown at the caller", async () => {
    const s = await start();
    const { raw } = await open(s.url);
    const session = s.sessions[0]!;
    const error = boom('close');
    session.on('close', () => {
      throw error;
    });
    expect(() => session.close()).not.toThrow();
    expect(s.reported).toEqual([error]);
    const close = await raw.waitForClose();
    expect(close.code).toBe(CloseCode.SESSION_CLOSED);
    expect(close.reason).not.toContain(SECRET);
    expect(s.server.sessionCount).toBe(0);
  });

  it("'connection-error' from a frame handler: reported; the bad connection still gets its close code", async () => {
    const s = await start();
    const error = boom('connection-error');
    s.server.on('connection-error', () => {
      throw error;
    });
    const healthy = await open(s.url);
    const bad = await open(s.url);
    bad.raw.sendBytes(new Uint8Array([0xc1, 0xff, 0x00]));
    const close = await bad.raw.waitForClose();
    expect(close.code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(close.reason).not.toContain(SECRET);
    expect(s.reported).toEqual([error]);
    expect(s.errors.at(-1)).toMatchObject({ code: 'invalid-frame' });
    await roundTrip(healthy.raw, s.sessions[0]!, 1);
    healthy.raw.close();
  });

  it("'connection-error' from the timer wheel (handshake timeout): reported; the wheel goes on", async () => {
    const s = await start({ handshakeTimeoutMs: 100 });
    const error = boom('connection-error');
    s.server.on('connection-error', () => {
      throw error;
    });
    for (let i = 1; i <= 2; i++) {
      const silent = await RawClient.connect(s.url);
      const close = await silent.waitForClose();
      expect(close.code).toBe(CloseCode.HANDSHAKE_TIMEOUT);
      expect(close.reason).not.toContain(SECRET);
      expect(s.reported).toHaveLength(i);
    }
    const next = await open(s.url);
    await roundTrip(next.raw, s.sessions[0]!, 1);
    next.raw.close();
  });
});

describe('reporting a handler error', () => {
  it("an 'error' listener that throws is logged once; it neither loops nor stops the server", async () => {
    const s = await listeningServer({ probeIntervalMs: 60_000, probeTimeoutMs: 60_000 });
    server = s.server;
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const failing = new Error('the error listener failed');
    let calls = 0;
    s.server.on('error', () => {
      calls++;
      throw failing;
    });
    const { raw } = await open(s.url);
    const session = s.sessions[0]!;
    session.once('message', () => {
      throw boom('message');
    });
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'explodes' });
    await waitFor(() => logged.mock.calls.length === 1);
    expect(calls).toBe(1);
    expect(logged.mock.calls[0]).toContain(failing);
    await roundTrip(raw, session, 2);
    expect(calls).toBe(1);
    raw.close();
  });

  it("without an 'error' listener a handler's error is logged with console.error", async () => {
    const s = await listeningServer({ probeIntervalMs: 60_000, probeTimeoutMs: 60_000 });
    server = s.server;
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const error = boom('session');
    s.server.on('session', () => {
      throw error;
    });
    const hello = await tryHello(s.url);
    expect(hello.welcome?.resumed).toBe(false);
    await waitFor(() => logged.mock.calls.length === 1);
    expect(logged.mock.calls[0]).toContain(error);
    await roundTrip(hello.raw, s.sessions[0]!, 1);
    hello.raw.close();
  });
});
