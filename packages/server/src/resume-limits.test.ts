import { CloseCode, encode, FrameType, type WelcomeFrame } from '@probe/protocol';
import { type RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeServerOptions } from './options.js';
import type { ProbeServer } from './server.js';
import { listeningServer, nextFrameOfType, rawSession, tryHello } from './test-server.js';

let server: ProbeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: ProbeServerOptions = {}) {
  const s = await listeningServer({ probeIntervalMs: 60_000, probeTimeoutMs: 60_000, ...options });
  server = s.server;
  return s;
}

function resumeWith(welcome: WelcomeFrame, token = welcome.token) {
  return { sessionId: welcome.sessionId, token, lastSeq: 0, sentSeq: 0 };
}

/** Bytes of the MESSAGE frames `raw` receives until it has `count` of them. */
async function messageBytes(raw: RawClient, count: number): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const frame = await nextFrameOfType(raw, FrameType.MESSAGE);
    bytes += encode(frame).byteLength;
  }
  return bytes;
}

describe('maxResumesPerMinute', () => {
  it('bounds what a client that never acknowledges can make the server replay', async () => {
    const s = await start({ maxResumesPerMinute: 3 });
    const { raw, welcome } = await rawSession(s.url);
    const session = s.sessions[0]!;
    for (let i = 0; i < 10; i++) session.send('x'.repeat(1000));
    const buffered = session.buffered.bytes;
    expect(await messageBytes(raw, 10)).toBe(buffered);
    raw.terminate();

    // Never acknowledging and never sending, so the first token stays valid every time.
    let replayed = 0;
    let resumed = 0;
    const refusals: number[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      const hello = await tryHello(s.url, resumeWith(welcome));
      if (hello.welcome) {
        resumed++;
        replayed += await messageBytes(hello.raw, 10);
        hello.raw.terminate();
      } else {
        refusals.push(hello.refused.code);
      }
    }
    expect(resumed).toBe(3);
    expect(replayed).toBe(3 * buffered);
    expect(refusals).toEqual(Array(9).fill(CloseCode.TRY_AGAIN_LATER));
    const logged = s.errors.filter((e) => e.code === 'resume-refused');
    expect(logged).toHaveLength(9);
    expect(logged[0]).toMatchObject({ closeCode: CloseCode.TRY_AGAIN_LATER });
    // Refusing the resume leaves the session as it was.
    expect(session.state).toBe('suspended');
    expect(session.buffered.bytes).toBe(buffered);
  });

  it('counts per session: another session resumes while one is refused', async () => {
    const s = await start({ maxResumesPerMinute: 1 });
    const a = await rawSession(s.url);
    const b = await rawSession(s.url);
    a.raw.terminate();
    b.raw.terminate();
    const once = await tryHello(s.url, resumeWith(a.welcome));
    expect(once.welcome?.resumed).toBe(true);
    once.raw.terminate();
    const twice = await tryHello(s.url, resumeWith(a.welcome));
    expect(twice.refused?.code).toBe(CloseCode.TRY_AGAIN_LATER);
    const other = await tryHello(s.url, resumeWith(b.welcome));
    expect(other.welcome?.resumed).toBe(true);
    other.raw.close();
  });

  it('does not count resumes refused for a wrong token', async () => {
    const s = await start({ maxResumesPerMinute: 1 });
    const { raw, welcome } = await rawSession(s.url);
    raw.terminate();
    for (let i = 0; i < 3; i++) {
      const guess = await tryHello(s.url, resumeWith(welcome, `guess-${i}`));
      expect(guess.refused?.code).toBe(CloseCode.TOKEN_INVALID);
    }
    const owner = await tryHello(s.url, resumeWith(welcome));
    expect(owner.welcome?.resumed).toBe(true);
    owner.raw.close();
  });
});

/** A session whose first token is confirmed, resumed once with it; nothing sent since. */
async function resumedOnce(url: string) {
  const first = await rawSession(url);
  first.raw.sendFrame({ type: FrameType.ACK, seq: 0 });
  const resumed = await rawSession(url, resumeWith(first.welcome));
  expect((await first.raw.waitForClose()).code).toBe(CloseCode.SESSION_TAKEN_OVER);
  return { old: first.welcome, resumed };
}

describe('resume tokens', () => {
  it('the token a client resumed with still works while it has not sent on the new connection', async () => {
    const s = await start();
    const { old, resumed } = await resumedOnce(s.url);
    resumed.raw.terminate();
    await waitFor(() => s.sessions[0]?.state === 'suspended');
    const again = await tryHello(s.url, resumeWith(old));
    expect(again.welcome?.resumed).toBe(true);
    again.raw.close();
  });

  it("the new welcome's token works before the client sent anything", async () => {
    const s = await start();
    const { resumed } = await resumedOnce(s.url);
    resumed.raw.terminate();
    await waitFor(() => s.sessions[0]?.state === 'suspended');
    const again = await tryHello(s.url, resumeWith(resumed.welcome));
    expect(again.welcome?.resumed).toBe(true);
    again.raw.close();
  });

  it('once the client sent on the new connection, only the new token works (4013 for the old)', async () => {
    const s = await start();
    const { old, resumed } = await resumedOnce(s.url);
    const session = s.sessions[0]!;
    const received = new Promise((resolve) => session.once('message', resolve));
    resumed.raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'holds the new token' });
    await received;
    resumed.raw.terminate();
    await waitFor(() => session.state === 'suspended');

    const stale = await tryHello(s.url, resumeWith(old));
    expect(stale.refused?.code).toBe(CloseCode.TOKEN_INVALID);
    expect(session.state).toBe('suspended');
    const current = await tryHello(s.url, {
      ...resumeWith(resumed.welcome),
      sentSeq: 1,
    });
    expect(current.welcome).toMatchObject({ resumed: true, lastSeq: 1 });
    current.raw.close();
  });
});
