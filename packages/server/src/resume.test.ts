import { CloseCode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { RawClient, sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeServer } from './server.js';
import { listeningServer, rawSession } from './test-server.js';

let server: ProbeServer | undefined;
afterEach(async () => server?.close());

async function nextOfType(raw: RawClient, type: number) {
  for (let i = 0; i < 50; i++) {
    const frame = await raw.nextFrame(3000);
    if (frame.type === type) return frame;
  }
  throw new Error(`no frame of type ${type}`);
}

describe('resume over the wire', () => {
  it('takeover: a second connection resuming the session terminates the first', async () => {
    const s = await listeningServer();
    server = s.server;
    const first = await rawSession(s.url);
    const { sessionId, token } = first.welcome;
    first.raw.sendFrame({ type: FrameType.ACK, seq: 0 }); // confirms the token: the next one is new
    await sleep(50);
    s.sessions[0]!.send('buffered-1');
    const second = await rawSession(s.url, { sessionId, token, lastSeq: 0, sentSeq: 0 });
    expect(second.welcome).toMatchObject({ resumed: true, sessionId, lastSeq: 0, sentSeq: 1 });
    expect(second.welcome.token).not.toBe(token);
    const closed = await first.raw.waitForClose();
    expect(closed.code).toBe(CloseCode.SESSION_TAKEN_OVER);
    // The unacknowledged message is replayed on the new connection.
    const replayed = await nextOfType(second.raw, FrameType.MESSAGE);
    expect(replayed).toMatchObject({ seq: 1, data: 'buffered-1' });
    expect(s.sessions).toHaveLength(1);
    second.raw.close();
  });

  it('refuses a wrong token without touching the session', async () => {
    const s = await listeningServer();
    server = s.server;
    const owner = await rawSession(s.url);
    const { sessionId } = owner.welcome;
    for (let i = 0; i < 20; i++) {
      const guess = await RawClient.connect(s.url);
      guess.sendFrame({
        type: FrameType.HELLO,
        version: PROTOCOL_VERSION,
        auth: null,
        resume: { sessionId, token: `guess-${i}`, lastSeq: 0, sentSeq: 0 },
      });
      expect((await guess.waitForClose()).code).toBe(CloseCode.TOKEN_INVALID);
    }
    // The owner's connection and session are untouched and still carry messages.
    const session = s.sessions[0]!;
    expect(session.state).toBe('open');
    const received: unknown[] = [];
    session.on('message', (m) => received.push(m));
    owner.raw.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: 'still here' });
    await waitFor(() => received.length === 1);
    expect(received).toEqual(['still here']);
    expect(s.errors.filter((e) => e.closeCode === CloseCode.TOKEN_INVALID)).toHaveLength(20);
    owner.raw.close();
  });

  it('refuses an unknown session and a session of another server instance', async () => {
    const s = await listeningServer();
    server = s.server;
    const unknown = await RawClient.connect(s.url);
    unknown.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: `${s.server.instanceId}.nope`, token: 'x', lastSeq: 0, sentSeq: 0 },
    });
    expect((await unknown.waitForClose()).code).toBe(CloseCode.SESSION_UNKNOWN);
    const foreign = await RawClient.connect(s.url);
    foreign.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: `otherinstanc.${'a'.repeat(43)}`, token: 'x', lastSeq: 0, sentSeq: 0 },
    });
    expect((await foreign.waitForClose()).code).toBe(CloseCode.SERVER_RESTARTED);
    // Any other id is opaque: not known here is all the server can say.
    const madeUp = await RawClient.connect(s.url);
    madeUp.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: 'nope', token: 'x', lastSeq: 0, sentSeq: 0 },
    });
    expect((await madeUp.waitForClose()).code).toBe(CloseCode.SESSION_UNKNOWN);
  });

  it('keeps the unconfirmed token valid when a welcome is lost on a dying connection', async () => {
    const s = await listeningServer();
    server = s.server;
    const first = await rawSession(s.url);
    first.raw.sendFrame({ type: FrameType.ACK, seq: 0 }); // confirms the first token
    await waitFor(() => s.sessions[0]?.state === 'open');
    const original = {
      sessionId: first.welcome.sessionId,
      token: first.welcome.token,
      lastSeq: 0,
      sentSeq: 0,
    };
    // Resume, but "lose" the welcome: never send on that connection.
    const lostWelcome = await rawSession(s.url, original);
    lostWelcome.raw.terminate();
    // The client that did not get the welcome holds only the original token: it still works.
    const again = await rawSession(s.url, original);
    expect(again.welcome.resumed).toBe(true);
    again.raw.terminate();
    // A client that did get the lost welcome holds its token: that works too (tried on a
    // second session, since the resume above showed this client never had it).
    const second = await rawSession(s.url);
    second.raw.sendFrame({ type: FrameType.ACK, seq: 0 });
    await waitFor(() => s.sessions[1]?.state === 'open');
    const secondOriginal = {
      ...original,
      sessionId: second.welcome.sessionId,
      token: second.welcome.token,
    };
    const lostAgain = await rawSession(s.url, secondOriginal);
    lostAgain.raw.terminate();
    const viaLost = await rawSession(s.url, { ...secondOriginal, token: lostAgain.welcome.token });
    expect(viaLost.welcome.resumed).toBe(true);
    viaLost.raw.close();
    // The token of a welcome superseded by a later resume is dead: only the token the client
    // showed and the newest one stay valid, and no plaintext token is kept.
    const superseded = await RawClient.connect(s.url);
    superseded.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { ...original, token: lostWelcome.welcome.token },
    });
    expect((await superseded.waitForClose()).code).toBe(CloseCode.TOKEN_INVALID);
    const withNewer = await rawSession(s.url, { ...original, token: again.welcome.token });
    expect(withNewer.welcome.resumed).toBe(true);
    withNewer.raw.sendFrame({ type: FrameType.ACK, seq: 0 });
    await waitFor(() => s.sessions[0]?.state === 'open');
    withNewer.raw.close();
    // Once the client has confirmed the newer token, the original one is dead.
    await waitFor(() => s.sessions[0]?.state === 'suspended');
    const stale = await RawClient.connect(s.url);
    stale.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: original,
    });
    expect((await stale.waitForClose()).code).toBe(CloseCode.TOKEN_INVALID);
  });

  it('refuses a resume that claims messages the server never sent', async () => {
    const s = await listeningServer();
    server = s.server;
    const first = await rawSession(s.url);
    first.raw.terminate();
    const liar = await RawClient.connect(s.url);
    liar.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: {
        sessionId: first.welcome.sessionId,
        token: first.welcome.token,
        lastSeq: 5,
        sentSeq: 0,
      },
    });
    expect((await liar.waitForClose()).code).toBe(CloseCode.PROTOCOL_ERROR);
  });
});
