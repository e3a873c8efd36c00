import { CloseCode, encode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { RawClient, sleep, waitFor } from '@probe/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConnectionErrorInfo } from './events.js';
import type { ProbeServer } from './server.js';
import type { Session } from './session.js';
import { answerProbes, listeningServer, rawSession } from './test-server.js';

const hello = {
  type: FrameType.HELLO,
  version: PROTOCOL_VERSION,
  auth: null,
  resume: null,
} as const;

let server: ProbeServer;
let url: string;
let errors: ConnectionErrorInfo[];
let canary: { raw: RawClient; session: Session; received: unknown[]; seq: number };

/** A healthy session exchanging messages beside every attack; it must lose nothing. */
async function startCanary(sessions: Session[]) {
  const { raw } = await rawSession(url);
  answerProbes(raw);
  await waitFor(() => sessions[0]);
  const session = sessions[0]!;
  const received: unknown[] = [];
  session.on('message', (m) => received.push(m));
  canary = { raw, session, received, seq: 0 };
}

async function canaryStillWorks() {
  const before = canary.received.length;
  canary.raw.sendFrame({ type: FrameType.MESSAGE, seq: ++canary.seq, data: canary.seq });
  await waitFor(() => canary.received.length === before + 1);
  expect(canary.session.state).toBe('open');
  expect(canary.received).toEqual(Array.from({ length: canary.seq }, (_, i) => i + 1));
}

beforeEach(async () => {
  const s = await listeningServer({
    handshakeTimeoutMs: 300,
    maxPayloadBytes: 4096,
    allowOrigin: (origin) => origin === undefined || origin === 'https://good.example',
    authenticate: (auth) => {
      if (auth === 'reject-me') throw new Error('not welcome here');
      return auth;
    },
  });
  server = s.server;
  url = s.url;
  errors = s.errors;
  await startCanary(s.sessions);
});
afterEach(async () => {
  await canaryStillWorks();
  await server.close();
});

/** Sends raw bytes (or a text frame) after an optional hello; returns the close and the log entry. */
async function attack(bytes: Uint8Array | string, opts: { afterHello?: boolean } = {}) {
  const raw = opts.afterHello ? (await rawSession(url)).raw : await RawClient.connect(url);
  const logged = errors.length;
  raw.sendBytes(bytes);
  const close = await raw.waitForClose(3000);
  await waitFor(() => errors.length > logged);
  return { close, log: errors[errors.length - 1]! };
}

const b = (...bytes: number[]) => new Uint8Array(bytes);

describe('hostile input gets a clear close code and a log entry; other sessions are untouched', () => {
  const cases: [string, () => Uint8Array | string, number, string, boolean?][] = [
    [
      'random bytes',
      () => b(0xc1, 0xff, 0x00, 0x13, 0x37),
      CloseCode.PROTOCOL_ERROR,
      'invalid-frame',
    ],
    [
      'a truncated frame',
      () => encode({ ...hello }).subarray(0, 3),
      CloseCode.INVALID_PAYLOAD,
      'malformed',
    ],
    [
      'trailing bytes',
      () => b(...encode({ ...hello }), 0x00),
      CloseCode.INVALID_PAYLOAD,
      'trailing-bytes',
    ],
    [
      'a hello with wrong field types',
      () => b(0x94, 0x01, 0xa1, 0x31, 0xc0, 0xc0),
      CloseCode.PROTOCOL_ERROR,
      'invalid-frame',
    ],
    [
      'an unknown frame type',
      () => b(0x92, 0x63, 0x01),
      CloseCode.PROTOCOL_ERROR,
      'unknown-frame-type',
    ],
    ['a text frame', () => 'hello?', CloseCode.UNSUPPORTED_DATA, 'text-frame'],
    [
      'a message before the hello',
      () => encode({ type: FrameType.MESSAGE, seq: 1, data: 1 }),
      CloseCode.PROTOCOL_ERROR,
      'unexpected-frame',
    ],
    [
      'a second hello',
      () => encode({ ...hello }),
      CloseCode.PROTOCOL_ERROR,
      'unexpected-frame',
      true,
    ],
    [
      'an ack for messages never sent',
      () => encode({ type: FrameType.ACK, seq: 7 }),
      CloseCode.RESYNC,
      'sequence-gap',
      true,
    ],
    [
      'a sequence number that jumps',
      () => encode({ type: FrameType.MESSAGE, seq: 5, data: 1 }),
      CloseCode.RESYNC,
      'sequence-gap',
      true,
    ],
    [
      'a probe sent by a client',
      () => encode({ type: FrameType.PROBE, id: 1 }),
      CloseCode.PROTOCOL_ERROR,
      'unexpected-frame',
      true,
    ],
    [
      'an oversize frame',
      () => new Uint8Array(5000).fill(0x91),
      CloseCode.MESSAGE_TOO_BIG,
      'too-large',
    ],
    [
      'an unsupported protocol version',
      () => encode({ ...hello, version: 99 }),
      CloseCode.UNSUPPORTED_VERSION,
      'unsupported-version',
    ],
    [
      'credentials the authenticate hook rejects',
      () => encode({ ...hello, auth: 'reject-me' }),
      CloseCode.UNAUTHORIZED,
      'unauthorized',
    ],
  ];
  for (const [name, bytes, closeCode, code, afterHello] of cases) {
    it(`${name} → ${closeCode} ${code}`, async () => {
      const { close, log } = await attack(bytes(), { afterHello: afterHello ?? false });
      expect(close.code).toBe(closeCode);
      expect(log).toMatchObject({ code, closeCode });
      expect(log.message.length).toBeGreaterThan(0);
    });
  }

  it('a gap suspends the session for a resume; a peer that keeps causing gaps is cut off', async () => {
    const first = await rawSession(url);
    const session = [...server.sessions()].find((s) => s !== canary.session)!;
    const closes: string[] = [];
    session.on('suspend', (reason) => closes.push(reason));
    session.on('close', (reason) => closes.push(reason));
    first.raw.sendFrame({ type: FrameType.MESSAGE, seq: 3, data: 'gap' });
    expect((await first.raw.waitForClose()).code).toBe(CloseCode.RESYNC);
    expect(session.state).toBe('suspended');
    let resume = {
      sessionId: first.welcome.sessionId,
      token: first.welcome.token,
      lastSeq: 0,
      sentSeq: 0,
    };
    for (let i = 0; i < 9; i++) {
      const again = await rawSession(url, resume);
      resume = { ...resume, token: again.welcome.token };
      again.raw.sendFrame({ type: FrameType.MESSAGE, seq: 9, data: 'gap again' });
      expect((await again.raw.waitForClose()).code).toBe(CloseCode.RESYNC);
    }
    expect(closes).toEqual(Array(10).fill('resync'));
    const last = await rawSession(url, resume);
    last.raw.sendFrame({ type: FrameType.MESSAGE, seq: 9, data: 'one gap too many' });
    expect((await last.raw.waitForClose()).code).toBe(CloseCode.PROTOCOL_ERROR);
    expect(closes.at(-1)).toBe('protocol-error');
    expect(session.state).toBe('closed');
  });

  it('a repeated sequence number is dropped, not delivered twice, and the connection stays', async () => {
    const { raw } = await rawSession(url);
    const session = [...server.sessions()].find((s) => s !== canary.session)!;
    const got: unknown[] = [];
    session.on('message', (m) => got.push(m));
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'a' });
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'a-again' });
    raw.sendFrame({ type: FrameType.MESSAGE, seq: 2, data: 'b' });
    await waitFor(() => got.length === 2);
    await sleep(50);
    expect(got).toEqual(['a', 'b']);
    expect(session.state).toBe('open');
    raw.close();
  });

  it('a connection that never says hello is closed after the handshake timeout', async () => {
    const sockets = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(url)));
    const closes = await Promise.all(sockets.map((s) => s.waitForClose(3000)));
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([CloseCode.HANDSHAKE_TIMEOUT]));
    await waitFor(() => server.stats().connections === 1);
    expect(errors.filter((e) => e.code === 'handshake-timeout')).toHaveLength(100);
  });

  it('a cross-origin connection is refused before the upgrade when allowOrigin says no', async () => {
    await expect(
      RawClient.connect(url, { headers: { origin: 'https://evil.example' } }),
    ).rejects.toThrow(/HTTP 403/);
    const good = await RawClient.connect(url, { headers: { origin: 'https://good.example' } });
    good.sendFrame(hello);
    expect((await good.nextFrame()).type).toBe(FrameType.WELCOME);
    good.close();
  });

  it('a peer that never acknowledges is cut off when its replay buffer passes the limit', async () => {
    await server.close();
    const s = await listeningServer({ maxBufferedMessages: 100 });
    server = s.server;
    url = s.url;
    errors = s.errors;
    await startCanary(s.sessions);
    const { raw } = await rawSession(url);
    const victim = s.sessions[1]!;
    const closed = new Promise((resolve) => victim.on('close', resolve));
    for (let i = 0; i < 101; i++) victim.send({ i });
    expect(await closed).toBe('buffer-overflow');
    expect((await raw.waitForClose()).code).toBe(CloseCode.BUFFER_OVERFLOW);
  });
});
