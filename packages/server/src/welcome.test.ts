import { decode, encode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { RawClient, sleep } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeServerOptions } from './options.js';
import type { ProbeServer } from './server.js';
import type { Session } from './session.js';
import { listeningServer, MemoryStore, nextFrameOfType } from './test-server.js';

let server: ProbeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Says hello and sends a first message in the same tick as the welcome arrives. */
async function messageRightAfterWelcome(url: string): Promise<RawClient> {
  const raw = await RawClient.connect(url);
  raw.ws.once('message', (data: Buffer) => {
    if (decode(data).type !== FrameType.WELCOME) return;
    raw.ws.send(encode({ type: FrameType.MESSAGE, seq: 1, data: 'first' }));
  });
  raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
  return raw;
}

const setups: [string, () => ProbeServerOptions][] = [
  ['sessions in memory', () => ({})],
  [
    'an async authenticate',
    () => ({
      authenticate: async (auth: unknown) => {
        await sleep(2);
        return auth;
      },
    }),
  ],
  [
    'a shared store that takes a few ms per step',
    () => ({ store: new MemoryStore({ delayMs: 3 }) }),
  ],
];

describe("a new session's first message", () => {
  for (const [name, options] of setups) {
    it(`reaches the 'message' handler attached in 'session', sent the moment the welcome arrives (${name})`, async () => {
      const s = await listeningServer({
        probeIntervalMs: 60_000,
        probeTimeoutMs: 60_000,
        ...options(),
      });
      server = s.server;
      const delivered = new Map<Session, unknown[]>();
      s.server.on('session', (session) => {
        const messages: unknown[] = [];
        delivered.set(session, messages);
        session.on('message', (data) => messages.push(data));
      });
      for (let i = 0; i < 50; i++) {
        const raw = await messageRightAfterWelcome(s.url);
        // Acknowledged means taken by the server: it must have reached the application.
        expect((await nextFrameOfType(raw, FrameType.ACK)).seq).toBe(1);
        const session = s.sessions[i]!;
        expect(delivered.get(session)).toEqual(['first']);
        raw.terminate();
      }
    });
  }
});
