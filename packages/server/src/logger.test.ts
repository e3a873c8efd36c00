import { createNoopMeter, metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { CloseCode, FrameType } from '@probe/protocol';
import { RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Logger } from './logger.js';
import { isNoopMeter } from './metrics.js';
import { ProbeServer } from './server.js';
import { answerProbes, listeningServer, nextFrameOfType, tryHello } from './test-server.js';

type Level = 'debug' | 'info' | 'warn' | 'error';
interface LogRecord {
  level: Level;
  fields: Record<string, unknown>;
  message: string | undefined;
}

/** A pino-style logger that keeps every record. */
function recordingLogger(enabled: (level: string) => boolean = () => true) {
  const records: LogRecord[] = [];
  const at =
    (level: Level) =>
    (fields: object, message?: string): void => {
      records.push({ level, fields: fields as Record<string, unknown>, message });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isLevelEnabled: enabled,
  };
  return { logger, records };
}

const AUTH = 'auth-payload-that-must-never-be-logged';

let server: ProbeServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

describe('logger', () => {
  it('gets refusals with their fields, session events at debug, and never a token or auth', async () => {
    const { logger, records } = recordingLogger();
    const s = await listeningServer({ logger, authenticate: (auth) => ({ ok: auth === AUTH }) });
    server = s.server;

    const hello = await tryHello(s.url, null, { auth: AUTH });
    const welcome = hello.welcome!;
    answerProbes(hello.raw);
    await waitFor(() => s.sessions[0]);
    const session = s.sessions[0]!;

    // A bad frame from another client: refused, logged at info with its fields.
    const bad = await RawClient.connect(s.url);
    bad.sendBytes(new Uint8Array([0x93, 0x01, 0x02, 0x03]));
    await bad.waitForClose(3000);
    const refusal = await waitFor(() => records.find((r) => r.fields.code === 'invalid-frame'));
    expect(refusal).toMatchObject({
      level: 'info',
      message: 'connection refused',
      fields: {
        code: 'invalid-frame',
        closeCode: CloseCode.PROTOCOL_ERROR,
        remoteAddress: '127.0.0.1',
      },
    });
    expect(refusal.fields.detail).toEqual(expect.any(String));

    // A guessed token: refused, logged, and the guess is not in the log either.
    const guess = 'G'.repeat(43);
    const wrong = await tryHello(s.url, {
      sessionId: welcome.sessionId,
      token: guess,
      lastSeq: 0,
      sentSeq: 0,
    });
    expect(wrong.refused?.code).toBe(CloseCode.TOKEN_INVALID);
    await waitFor(() => records.find((r) => r.fields.code === 'resume-refused'));

    // The connection drops, the session is suspended and resumed with the real token.
    const suspended = new Promise((resolve) => session.once('suspend', resolve));
    hello.raw.terminate();
    await suspended;
    const resumed = await tryHello(s.url, {
      sessionId: welcome.sessionId,
      token: welcome.token,
      lastSeq: 0,
      sentSeq: 0,
    });
    expect(resumed.welcome?.resumed).toBe(true);
    resumed.raw.sendFrame({ type: FrameType.GOODBYE, code: CloseCode.NORMAL, reason: '' });
    await waitFor(() => session.state === 'closed');

    const debug = records.filter((r) => r.level === 'debug');
    expect(debug.map((r) => r.message)).toEqual([
      'session opened',
      'session suspended',
      'session resumed',
      'session ended',
    ]);
    for (const record of debug) expect(record.fields.sessionId).toBe(welcome.sessionId);
    expect(debug[1]!.fields.reason).toBe('reset');
    expect(debug[3]!.fields.reason).toBe('client-closed');

    const text = JSON.stringify(records);
    for (const secret of [welcome.token, resumed.welcome!.token, guess, AUTH]) {
      expect(text).not.toContain(secret);
    }
    resumed.raw.close();
  });

  it('gets a refused origin before the upgrade', async () => {
    const { logger, records } = recordingLogger();
    const s = await listeningServer({ logger });
    server = s.server;
    await expect(
      RawClient.connect(s.url, { headers: { origin: 'https://elsewhere.example' } }),
    ).rejects.toThrow();
    const record = await waitFor(() => records.find((r) => r.fields.code === 'forbidden-origin'));
    expect(record).toMatchObject({
      level: 'info',
      fields: { closeCode: CloseCode.FORBIDDEN_ORIGIN, remoteAddress: '127.0.0.1' },
    });
    expect(record.fields.sessionId).toBeUndefined();
  });

  it("gets an error only when no 'error' listener takes it", async () => {
    const { logger, records } = recordingLogger();
    const s = await listeningServer({ logger });
    server = s.server;
    const thrown = new Error('a session handler failed');
    s.server.on('session', () => {
      throw thrown;
    });
    const first = await tryHello(s.url);
    const record = await waitFor(() => records.find((r) => r.level === 'error'));
    expect(record.fields.err).toBe(thrown);
    first.raw.close();

    const taken: unknown[] = [];
    s.server.on('error', (error) => taken.push(error));
    const second = await tryHello(s.url);
    await waitFor(() => taken.length === 1);
    expect(records.filter((r) => r.level === 'error')).toHaveLength(1);
    second.raw.close();
  });

  it('follows no session for debug records when debug is off, and survives a throwing logger', async () => {
    const { logger, records } = recordingLogger((level) => level !== 'debug');
    const throwing: Logger = {
      ...logger,
      info: () => {
        throw new Error('the log sink is down');
      },
    };
    const s = await listeningServer({ logger: throwing });
    server = s.server;
    const hello = await tryHello(s.url);
    await waitFor(() => s.sessions[0]);
    expect(s.sessions[0]!.listenerCount('suspend')).toBe(0);
    const bad = await RawClient.connect(s.url);
    bad.sendBytes(new Uint8Array([0xc1]));
    await bad.waitForClose(3000);
    await waitFor(() => s.errors.length === 1);
    // The server carries on: the session still answers.
    hello.raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'still here' });
    await nextFrameOfType(hello.raw, FrameType.ACK);
    expect(records).toEqual([]);
    hello.raw.close();
  });

  it('defaults to console.error for warnings and errors only', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const s = await listeningServer();
    server = s.server;
    const bad = await RawClient.connect(s.url);
    bad.sendBytes(new Uint8Array([0xc1]));
    await bad.waitForClose(3000);
    await waitFor(() => s.errors.length === 1);
    expect(logged).not.toHaveBeenCalled();
  });

  it('refuses a logger without the four levels', () => {
    const partial = { info() {}, warn() {}, error() {} } as unknown as Logger;
    expect(() => new ProbeServer({ logger: partial })).toThrow(/logger must have a debug\(\)/);
  });
});

describe('meter provider', () => {
  it('tells the no-op meter from an SDK one', () => {
    expect(isNoopMeter(createNoopMeter())).toBe(true);
    expect(isNoopMeter(metrics.getMeterProvider().getMeter('x'))).toBe(true);
    expect(isNoopMeter(new MeterProvider().getMeter('x'))).toBe(false);
  });
});
