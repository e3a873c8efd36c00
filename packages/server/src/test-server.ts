import {
  decode,
  encodeProbeAnswer,
  FrameType,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from '@probe/protocol';
import { RawClient } from '@probe/testkit';
import type { ConnectionErrorInfo } from './events.js';
import type { ProbeServerOptions } from './options.js';
import { ProbeServer } from './server.js';
import type { Session } from './session.js';

/** A listening server on 127.0.0.1 with its sessions and log entries recorded, for tests. */
export async function listeningServer(options: ProbeServerOptions = {}) {
  const server = new ProbeServer({ probeIntervalMs: 200, probeTimeoutMs: 200, ...options });
  const sessions: Session[] = [];
  const errors: ConnectionErrorInfo[] = [];
  server.on('session', (session) => sessions.push(session));
  server.on('connection-error', (info) => errors.push(info));
  const { port } = await server.listen(0, '127.0.0.1');
  return { server, sessions, errors, url: `ws://127.0.0.1:${port}/` };
}

/** Opens a raw connection and completes a hello; returns the client and its welcome. */
export async function rawSession(
  url: string,
  resume: { sessionId: string; token: string; lastSeq: number; sentSeq: number } | null = null,
  auth: unknown = null,
): Promise<{ raw: RawClient; welcome: WelcomeFrame }> {
  const raw = await RawClient.connect(url);
  raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth, resume });
  const welcome = await raw.nextFrame();
  if (welcome.type !== FrameType.WELCOME)
    throw new Error(`expected a welcome, got frame type ${welcome.type}`);
  return { raw, welcome };
}

/** Makes a raw client answer every probe at once, as a healthy client does. */
export function answerProbes(raw: RawClient): void {
  raw.ws.on('message', (data: Buffer) => {
    const frame = decode(data);
    if (frame.type === FrameType.PROBE) raw.ws.send(encodeProbeAnswer(frame.id, null));
  });
}
