import {
  decode,
  encodeProbeAnswer,
  type Frame,
  FrameType,
  type GoodbyeFrame,
  PROTOCOL_VERSION,
  type ResumeRequest,
  type WelcomeFrame,
} from '@probe/protocol';
import { type CloseInfo, RawClient, sleep } from '@probe/testkit';
import type { ConnectionErrorInfo } from './events.js';
import type { ProbeServerOptions } from './options.js';
import { ProbeServer } from './server.js';
import type { Session } from './session.js';
import {
  type EndedSession,
  type LoadedSession,
  type RoomRead,
  type SessionChanges,
  type SessionRecord,
  type SessionStore,
  StoreError,
} from './store.js';

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

/** The next frame of `type`, skipping others (probes, acks). */
export async function nextFrameOfType<T extends Frame['type']>(
  raw: RawClient,
  type: T,
  timeoutMs = 3000,
): Promise<Extract<Frame, { type: T }>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const frame = await raw.nextFrame(Math.max(1, deadline - performance.now()));
    if (frame.type === type) return frame as Extract<Frame, { type: T }>;
  }
}

/** What a hello got: a welcome, or a refusal (the GOODBYE's code and reason, then the close). */
export type HelloOutcome =
  | { raw: RawClient; welcome: WelcomeFrame; refused?: undefined }
  | { raw: RawClient; welcome?: undefined; refused: CloseInfo & { goodbye: GoodbyeFrame } };

/** Connects and says hello like {@link rawSession}, but also reports a refusal. */
export async function tryHello(
  url: string,
  resume: ResumeRequest | null = null,
  options: { auth?: unknown; headers?: Record<string, string> } = {},
): Promise<HelloOutcome> {
  const raw = await RawClient.connect(url, options.headers ? { headers: options.headers } : {});
  raw.sendFrame({
    type: FrameType.HELLO,
    version: PROTOCOL_VERSION,
    auth: options.auth ?? null,
    resume,
  });
  const first = await raw.nextFrame();
  if (first.type === FrameType.WELCOME) return { raw, welcome: first };
  if (first.type !== FrameType.GOODBYE) throw new Error(`unexpected frame type ${first.type}`);
  const close = await raw.waitForClose();
  return { raw, refused: { ...close, goodbye: first } };
}

/**
 * A shared store kept in this process whose every step takes `delayMs` (so the server really
 * waits on it), and that fails a step when `fail` returns an error for it. Rooms are not kept.
 */
export class MemoryStore implements SessionStore {
  readonly sessions = new Map<string, { record: SessionRecord; frames: Map<number, Uint8Array> }>();
  readonly endedWith = new Map<string, number>();
  private readonly resumes = new Map<string, number[]>();

  constructor(
    private readonly options: { delayMs?: number; fail?: (step: string) => Error | undefined } = {},
  ) {}

  open(): Promise<void> {
    return this.step('open', () => {});
  }
  detach(): Promise<void> {
    return this.step('detach', () => {});
  }
  lease(): number | null {
    return 0;
  }
  verify(id: string, epoch: number): Promise<boolean> {
    return this.step('verify', () => this.sessions.get(id)?.record.epoch === epoch);
  }
  create(record: SessionRecord): Promise<void> {
    return this.step('create', () => {
      this.sessions.set(record.id, { record: structuredClone(record), frames: new Map() });
    });
  }
  load(id: string): Promise<LoadedSession | EndedSession | null> {
    return this.step('load', () => {
      const endedWith = this.endedWith.get(id);
      if (endedWith !== undefined) return { endedWith };
      const stored = this.sessions.get(id);
      if (!stored) return null;
      const { record, frames } = stored;
      const unacked: Uint8Array[] = [];
      for (let seq = record.ackedSeq + 1; seq <= record.outSeq; seq++) {
        const frame = frames.get(seq);
        if (frame) unacked.push(frame);
      }
      return { record: structuredClone(record), frames: unacked };
    });
  }
  release(): Promise<boolean> {
    return this.step('release', () => true);
  }
  claim(
    id: string,
    expected: { epoch: number; version: number | null },
    owner: string,
    tokens: { tokenHash: string | null; pendingTokenHash: string | null; redeliverUpTo: number },
    maxPerMinute: number,
  ): Promise<number | 'conflict' | 'too-many'> {
    return this.step('claim', () => {
      const stored = this.sessions.get(id);
      const { epoch, version } = expected;
      if (!stored || stored.record.epoch !== epoch) return 'conflict' as const;
      if (version !== null && stored.record.version !== version) return 'conflict' as const;
      const now = Date.now();
      const recent = (this.resumes.get(id) ?? []).filter((at) => at > now - 60_000);
      recent.push(now);
      this.resumes.set(id, recent);
      if (recent.length > maxPerMinute) return 'too-many' as const;
      Object.assign(stored.record, tokens, { owner, held: true, epoch: epoch + 1 });
      return stored.record.epoch;
    });
  }
  append(id: string, epoch: number, seq: number, frame: Uint8Array): Promise<void> {
    return this.step('append', () => {
      const stored = this.owned(id, epoch);
      stored.frames.set(seq, frame);
      stored.record.outSeq = seq;
      stored.record.version++;
    });
  }
  sync(id: string, epoch: number, changes: SessionChanges): Promise<void> {
    return this.step('sync', () => {
      const { record } = this.owned(id, epoch);
      Object.assign(record, changes);
      record.version++;
    });
  }
  end(id: string, epoch: number, closeCode: number): Promise<void> {
    return this.step('end', () => {
      this.owned(id, epoch);
      this.sessions.delete(id);
      this.endedWith.set(id, closeCode);
    });
  }
  publish(): Promise<string> {
    return this.step('publish', () => '0-0');
  }
  publishVolatile(): Promise<void> {
    return this.step('publishVolatile', () => {});
  }
  roomHead(): Promise<string> {
    return this.step('roomHead', () => '0-0');
  }
  readRoom(): Promise<RoomRead> {
    return this.step('readRoom', () => ({ entries: [], trimmed: false }));
  }
  listen(): void {}
  watch(): void {}
  unwatch(): void {}

  private owned(id: string, epoch: number) {
    const stored = this.sessions.get(id);
    if (!stored || stored.record.epoch !== epoch) throw new StoreError('fenced', `${id} moved`);
    return stored;
  }

  private async step<T>(name: string, run: () => T): Promise<T> {
    await sleep(this.options.delayMs ?? 0);
    const error = this.options.fail?.(name);
    if (error) throw error;
    return run();
  }
}
