import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  endsSession,
  FrameType,
  isRetryableClose,
  type WelcomeFrame,
} from '@probe/protocol';
import { sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { CloseReason } from './events.js';
import type { ProbeServerOptions } from './options.js';
import type { ProbeServer } from './server.js';
import type { Session } from './session.js';
import { listeningServer, nextFrameOfType, rawSession, tryHello } from './test-server.js';

let server: ProbeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: ProbeServerOptions = {}) {
  const s = await listeningServer({
    probeIntervalMs: 60_000,
    probeTimeoutMs: 60_000,
    authenticate: (auth) => auth,
    ...options,
  });
  server = s.server;
  return s;
}

function resumeOf(welcome: WelcomeFrame) {
  return { sessionId: welcome.sessionId, token: welcome.token, lastSeq: 0, sentSeq: 0 };
}

function closeReason(session: Session): Promise<CloseReason> {
  return new Promise((resolve) => session.once('close', resolve));
}

describe('authorizeResume', () => {
  it('is asked on every resume with the session data and the new upgrade request', async () => {
    const asked: [unknown, string | string[] | undefined][] = [];
    const s = await start({
      authorizeResume: (data, request: IncomingMessage) => {
        asked.push([data, request.headers['x-attempt']]);
        return true;
      },
    });
    const first = await tryHello(s.url, null, { auth: 'alice', headers: { 'x-attempt': '1' } });
    expect(asked).toEqual([]);
    first.raw.terminate();
    const again = await tryHello(s.url, resumeOf(first.welcome!), {
      headers: { 'x-attempt': '2' },
    });
    expect(again.welcome?.resumed).toBe(true);
    expect(asked).toEqual([['alice', '2']]);
    again.raw.close();
  });

  const refusals: [string, (data: unknown) => boolean | Promise<boolean>][] = [
    ['returns false', () => false],
    ['resolves false', async () => false],
    [
      'throws',
      () => {
        throw new Error('access list says: secret-acl-detail');
      },
    ],
  ];
  for (const [name, decide] of refusals) {
    it(`refusing (${name}) ends the session with 'revoked', telling the client 4503`, async () => {
      const s = await start({ authorizeResume: decide });
      const first = await rawSession(s.url, null, 'alice');
      const session = s.sessions[0]!;
      const closed = closeReason(session);
      // The first connection is still up: it is told too.
      const refused = await tryHello(s.url, resumeOf(first.welcome));
      expect(refused.refused?.code).toBe(CloseCode.UNAUTHORIZED);
      expect(refused.refused?.goodbye.code).toBe(CloseCode.UNAUTHORIZED);
      expect(refused.refused?.reason).toBe('session revoked');
      const old = await first.raw.waitForClose();
      expect(old.code).toBe(CloseCode.UNAUTHORIZED);
      expect(old.reason).not.toContain('secret');
      expect(await closed).toBe('revoked');
      expect(session.state).toBe('closed');
      expect(s.server.sessionCount).toBe(0);
      expect(s.errors.map((e) => e.code)).toContain('resume-refused');
      if (name === 'throws') {
        const entry = s.errors.find((e) => e.code === 'unauthorized');
        expect(entry?.message).toContain('secret-acl-detail');
      }
      // 4503 is final: a client stops, and the session cannot come back.
      expect(isRetryableClose(CloseCode.UNAUTHORIZED)).toBe(false);
      const later = await tryHello(s.url, resumeOf(first.welcome));
      expect(later.refused?.code).toBe(CloseCode.SESSION_ENDED);
    });
  }
});

describe('maxSessionLifetimeMs', () => {
  it('resumes a younger session, and refuses an older one with 4011, ending it as expired', async () => {
    const s = await start({ maxSessionLifetimeMs: 500 });
    const first = await rawSession(s.url);
    const session = s.sessions[0]!;
    first.raw.terminate();
    const young = await tryHello(s.url, resumeOf(first.welcome));
    expect(young.welcome?.resumed).toBe(true);
    young.raw.sendFrame({ type: FrameType.ACK, seq: 0 });
    young.raw.terminate();
    await waitFor(() => session.state === 'suspended');

    const closed = closeReason(session);
    await sleep(600);
    const old = await tryHello(s.url, resumeOf(young.welcome!));
    expect(old.refused?.code).toBe(CloseCode.SESSION_EXPIRED);
    expect(old.refused?.reason).toBe('session expired');
    expect(await closed).toBe('expired');
    expect(s.server.sessionCount).toBe(0);
    // 4011 tells a client to start a new session, which is welcome.
    expect(endsSession(CloseCode.SESSION_EXPIRED)).toBe(true);
    const fresh = await tryHello(s.url);
    expect(fresh.welcome?.resumed).toBe(false);
    fresh.raw.close();
  });
});

describe('server.endSessions()', () => {
  it('ends the matching sessions with 4503 (final) and leaves the others alone', async () => {
    const s = await start();
    const alice = await rawSession(s.url, null, 'alice');
    const bob = await rawSession(s.url, null, 'bob');
    const aliceSuspended = await rawSession(s.url, null, 'alice');
    aliceSuspended.raw.terminate();
    await waitFor(() => s.sessions[2]?.state === 'suspended');
    const reasons = s.sessions.map(closeReason);

    expect(s.server.endSessions((session) => session.data === 'alice')).toBe(2);

    const goodbye = await nextFrameOfType(alice.raw, FrameType.GOODBYE);
    expect(goodbye.code).toBe(CloseCode.UNAUTHORIZED);
    expect((await alice.raw.waitForClose()).code).toBe(CloseCode.UNAUTHORIZED);
    expect(isRetryableClose(CloseCode.UNAUTHORIZED)).toBe(false);
    expect(await reasons[0]).toBe('revoked');
    expect(await reasons[2]).toBe('revoked');
    expect(s.server.sessionCount).toBe(1);
    for (const gone of [alice, aliceSuspended]) {
      const resume = await tryHello(s.url, resumeOf(gone.welcome));
      expect(resume.refused?.code).toBe(CloseCode.SESSION_ENDED);
    }

    const bobSession = s.sessions[1]!;
    expect(bobSession.state).toBe('open');
    bobSession.send('still here');
    expect((await nextFrameOfType(bob.raw, FrameType.MESSAGE)).data).toBe('still here');
    bob.raw.close();
  });
});
