import {
  CloseCode,
  type EncodedPayload,
  encodeAck,
  encodeMessage,
  encodeMessageWithPayload,
  InboundSequence,
  ProbeError,
  ReplayBuffer,
  type ResumeRequest,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import type { AckBatcher } from './ack-batcher.js';
import type { Connection } from './connection.js';
import type { CloseReason, ResumeInfo, SuspendReason } from './events.js';
import type { ResolvedServerOptions } from './options.js';
import type { Timed, TimerWheel } from './scheduler.js';
import { hashToken, randomToken, tokenMatches } from './tokens.js';

export type SessionState = 'open' | 'suspended' | 'closed';

export interface SessionEvents<In> {
  /** A message from the client: exactly once, in order, across reconnects. */
  message: [data: In];
  /** The connection was lost; the session waits `sessionTtlMs` for the client to resume. */
  suspend: [reason: SuspendReason];
  /** The client came back; buffered messages were replayed. */
  resume: [info: ResumeInfo];
  /** The replay buffer fell back below `highWaterMarkBytes` after `send()` returned false. */
  drain: [];
  /** The session ended for good. */
  close: [reason: CloseReason];
}

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly options: ResolvedServerOptions<unknown>;
  readonly wheel: TimerWheel;
  readonly acks: AckBatcher;
  readonly now: () => number;
  sessionClosed(session: Session<unknown>, reason: CloseReason): void;
  reportError(error: unknown): void;
}

/** The close code that tells the client why its session ended. */
export const CLOSE_CODES: Record<CloseReason, number> = {
  'client-closed': CloseCode.NORMAL,
  'server-closed': CloseCode.SESSION_CLOSED,
  expired: CloseCode.SESSION_EXPIRED,
  'buffer-overflow': CloseCode.BUFFER_OVERFLOW,
  'protocol-error': CloseCode.PROTOCOL_ERROR,
  'server-shutdown': CloseCode.SERVER_SHUTDOWN,
};

const NO_ROOMS: ReadonlySet<string> = new Set();

/**
 * One client's session: it outlives connections. While `suspended` it buffers what it is sent
 * and can be resumed with its secret token; it ends on `close()`, on the client's close, on
 * buffer overflow or when its TTL passes.
 *
 * @typeParam Data what `authenticate` returned for this client.
 * @typeParam In messages the client sends; @typeParam Out messages the server sends.
 */
export class Session<Data = unknown, In = unknown, Out = unknown>
  extends EventEmitter<SessionEvents<In>>
  implements Timed
{
  state: SessionState = 'open';
  /** Smoothed probe round-trip time in ms (null before the first answer). */
  rttMs: number | null = null;
  /** Rooms this session has joined (allocated on the first join: most sessions join none). */
  get rooms(): ReadonlySet<string> {
    return this.joined ?? NO_ROOMS;
  }
  /** @internal */ joined: Set<string> | null = null;
  /** @internal */ wheelAt = 0;
  /** @internal */ wheelSlot = -1;
  /** @internal */ connection: Connection | null = null;
  /** @internal */ readonly outbound = new ReplayBuffer();
  /** @internal */ readonly inbound = new InboundSequence();
  /** Hash of the token the client is known to hold. */
  private tokenHash: string | null = null;
  /** The token sent in the last welcome, until the client proves it received it. */
  private pendingToken: string | null = null;
  private pendingTokenHash: string | null = null;
  private aboveHighWater = false;

  constructor(
    /** Unguessable id; the prefix names the server instance that created it. */
    readonly id: string,
    /** What `authenticate` resolved with. */
    readonly data: Data,
    private readonly host: SessionHost,
  ) {
    super();
  }

  /**
   * Sends a message: delivered exactly once and in order, even across reconnects. While the
   * session is suspended it is buffered and replayed on resume.
   * @returns false when unacknowledged data passed `highWaterMarkBytes`: wait for `'drain'`.
   * @throws {ProbeError} `session-closed` after the session ended.
   */
  send(data: Out): boolean {
    this.assertOpen();
    return this.enqueue(encodeMessage(this.outbound.nextSeq, data));
  }

  /** @internal broadcast path: the payload was encoded once for every recipient. */
  sendPayload(payload: EncodedPayload): boolean {
    if (this.state === 'closed') return false;
    return this.enqueue(encodeMessageWithPayload(this.outbound.nextSeq, payload));
  }

  /** Ends the session: the client is told (close code 4500) and will not resume it. */
  close(): void {
    this.end('server-closed');
  }

  /** Unacknowledged server→client messages and bytes. */
  get buffered(): { messages: number; bytes: number } {
    return { messages: this.outbound.size, bytes: this.outbound.bytes };
  }

  private assertOpen(): void {
    if (this.state === 'closed')
      throw new ProbeError('session-closed', `session ${this.id} is closed`);
  }

  private enqueue(frame: Uint8Array): boolean {
    const { maxBufferedMessages, maxBufferedBytes, highWaterMarkBytes } = this.host.options;
    this.outbound.push(frame);
    if (this.outbound.size > maxBufferedMessages || this.outbound.bytes > maxBufferedBytes) {
      const { size, bytes } = this.outbound;
      this.connection?.report(
        'buffer-overflow',
        CloseCode.BUFFER_OVERFLOW,
        `replay buffer passed its limit (${size} messages, ${bytes} bytes unacknowledged)`,
      );
      this.end('buffer-overflow');
      return false;
    }
    this.connection?.send(frame);
    if (this.outbound.bytes > highWaterMarkBytes) this.aboveHighWater = true;
    return !this.aboveHighWater;
  }

  /**
   * @internal the token for a welcome. A new one is issued only once the client has confirmed
   * the previous one (by sending on the connection that delivered it), so a welcome lost on a
   * dying connection never leaves the client holding a token the server no longer accepts.
   */
  issueToken(): string {
    if (this.pendingToken === null) {
      this.pendingToken = randomToken();
      this.pendingTokenHash = hashToken(this.pendingToken);
    }
    return this.pendingToken;
  }

  /** @internal constant time; both comparisons always run. */
  tokenMatches(token: string): boolean {
    const confirmed = tokenMatches(token, this.tokenHash);
    const pending = tokenMatches(token, this.pendingTokenHash);
    return confirmed || pending;
  }

  /** @internal the client has sent on its new connection, so it holds the pending token. */
  confirmToken(): void {
    if (this.pendingTokenHash === null) return;
    this.tokenHash = this.pendingTokenHash;
    this.pendingToken = null;
    this.pendingTokenHash = null;
  }

  /** @internal called once the welcome went out on `connection`. */
  attach(connection: Connection, resume: ResumeRequest | null): void {
    this.host.wheel.cancel(this);
    this.connection = connection;
    this.state = 'open';
    if (resume === null) return;
    // The peer may have missed our last ack: send it again with the replay.
    this.inbound.forgetAck();
    const replay = this.outbound.since(resume.lastSeq);
    for (const frame of replay) connection.send(frame);
    this.flushAck();
    this.emit('resume', {
      replayedToClient: replay.length,
      replayedFromClient: resume.sentSeq - this.inbound.lastSeq,
    });
  }

  /** @internal the connection is gone; keep the session for `sessionTtlMs`. */
  suspend(reason: SuspendReason): void {
    if (this.state !== 'open') return;
    this.connection = null;
    this.state = 'suspended';
    this.host.acks.delete(this);
    this.host.wheel.schedule(this, this.host.now() + this.host.options.sessionTtlMs);
    this.emit('suspend', reason);
  }

  /** @internal */
  onWheelTimer(): void {
    if (this.state === 'suspended') this.end('expired');
  }

  /** @internal */
  receive(seq: number, data: unknown): void {
    if (!this.inbound.accept(seq)) return;
    if (this.inbound.ackDue) this.flushAck();
    else this.host.acks.add(this);
    try {
      this.emit('message', data as In);
    } catch (error) {
      this.host.reportError(error);
    }
  }

  /** @internal */
  acknowledge(seq: number): void {
    this.outbound.ack(seq);
    if (this.aboveHighWater && this.outbound.bytes <= this.host.options.highWaterMarkBytes) {
      this.aboveHighWater = false;
      this.emit('drain');
    }
  }

  /** @internal */
  flushAck(): void {
    const ack = this.inbound.takeAck();
    if (ack !== null) this.connection?.send(encodeAck(ack));
  }

  /** @internal ends the session for good and tells the client why. */
  end(reason: CloseReason): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.wheel.cancel(this);
    this.host.acks.delete(this);
    const connection = this.connection;
    this.connection = null;
    connection?.closeWith(CLOSE_CODES[reason], reason);
    // Listeners still see the session as it was (its rooms, its data) when 'close' fires.
    try {
      this.emit('close', reason);
    } catch (error) {
      this.host.reportError(error);
    }
    this.host.sessionClosed(this as Session<unknown>, reason);
    this.removeAllListeners();
  }
}
