import type { IncomingMessage } from 'node:http';
import {
  type ClientFrame,
  CloseCode,
  clampReason,
  decodeFromClient,
  encodeGoodbye,
  encodeProbe,
  FrameType,
  type HelloFrame,
  type MessageFrame,
  PROTOCOL_VERSION,
  ProtocolError,
  probeAnswerId,
  type WireData,
} from '@probe/protocol';
import type { SuspendReason } from './events.js';
import type { Timed, TimerWheel } from './scheduler.js';

/** The few socket operations the core needs. */
export interface Transport {
  send(data: Uint8Array): void;
  close(code: number, reason: string): void;
  terminate(): void;
  /** Optional: hold writes until {@link uncork}, so a burst of frames becomes one write. */
  cork?(): void;
  uncork?(): void;
}

/**
 * What a connection carries frames for once it is welcomed: the session core. The connection
 * knows only this, so the session side owns the link between the two.
 */
export interface ConnectionPeer {
  readonly id: string;
  /** A MESSAGE; may throw ProtocolError. */
  receive(frame: MessageFrame): void;
  /** A cumulative ack (ACK or PROBE_ANSWER); may throw ProtocolError. */
  acknowledge(seq: number): void;
  /** The first frame on a welcomed connection shows the client holds the new token. */
  confirmToken(): void;
  /** The client said GOODBYE: it ends the session. */
  goodbye(): void;
  /** A probe answered after `rttMs`. */
  probeAnswered(rttMs: number): void;
  /**
   * This connection stopped carrying the session. When it is being refused with `closeCode`,
   * returns the code to close with instead (a gap is retryable until a peer causes too many).
   */
  disconnected(
    connection: Connection,
    reason: SuspendReason,
    closeCode?: number,
  ): number | undefined;
}

/** What a connection needs from the server that accepted it. */
export interface ConnectionHost {
  readonly options: {
    readonly probeIntervalMs: number;
    readonly probeTimeoutMs: number;
    readonly handshakeTimeoutMs: number;
    readonly maxPayloadBytes: number;
  };
  readonly wheel: TimerWheel;
  readonly now: () => number;
  /** Opens a new session or resumes one; resolves when the welcome is sent or the socket refused. */
  hello(connection: Connection, hello: HelloFrame): Promise<void>;
  connectionClosed(connection: Connection): void;
  connectionError(connection: Connection, code: string, closeCode: number, message: string): void;
  /** Told of probe round trips and probe timeouts (metrics); null or absent when nobody is. */
  readonly probes?: ProbeObserver | null;
}

/** Probe round trips and probe timeouts, as a connection sees them. */
export interface ProbeObserver {
  /** A probe was answered after `rttMs`. */
  answered(rttMs: number): void;
  /** A probe went unanswered: the path had been silent for `silentMs` when it was declared dead. */
  timedOut(silentMs: number): void;
}

type Phase = 'handshake' | 'welcoming' | 'open' | 'closed';

const MAX_PROBE_ID = 0xffff_ffff;

/** Probes of all connections go out at this many points of each interval. */
const PROBE_PHASES = 10;

/**
 * One WebSocket connection, from upgrade to close. It knows nothing of `ws`: the binding feeds
 * it frames and closes. Before the welcome its wheel deadline is the handshake timeout; after,
 * it alternates between "next probe" and "probe answer due".
 */
export class Connection implements Timed {
  /** @internal */ wheelAt = 0;
  /** @internal */ wheelSlot = -1;
  /** The session this connection carries, once welcomed. */
  peer: ConnectionPeer | null = null;
  /**
   * The upgrade request, for `authenticate` and `allowOrigin`; released once the session is
   * open, since it holds headers and buffers for as long as the connection lives.
   */
  request: IncomingMessage | undefined;
  readonly remoteAddress: string | undefined;
  private phase: Phase = 'handshake';
  private probeId = 0;
  private probeSentAt = 0;
  /** When the path was last known alive: the last probe answer, or the welcome. */
  private answeredAt = 0;
  /** When the current probe was due: the cadence follows due times, not send times. */
  private probeDueAt = 0;
  private probePending = false;
  private tokenConfirmed = true;
  private corked = false;

  constructor(
    private readonly host: ConnectionHost,
    private readonly transport: Transport,
    request: IncomingMessage | undefined,
  ) {
    this.request = request;
    this.remoteAddress = request?.socket.remoteAddress;
    host.wheel.schedule(this, host.now() + host.options.handshakeTimeoutMs);
  }

  get isOpen(): boolean {
    return this.phase === 'open';
  }

  /** Between a valid hello and the welcome (authentication, session lookup). */
  get isWelcoming(): boolean {
    return this.phase === 'welcoming';
  }

  /**
   * Frames sent in one turn of the event loop (an echo burst, a replay, a broadcast) are
   * coalesced into one socket write: a syscall per frame is what costs most at high rates.
   */
  send(bytes: Uint8Array): void {
    if (this.phase === 'closed') return;
    if (!this.corked && this.transport.cork) {
      this.corked = true;
      this.transport.cork();
      process.nextTick(uncork, this);
    }
    this.transport.send(bytes);
  }

  /** @internal */
  flushWrites(): void {
    this.corked = false;
    this.transport.uncork?.();
  }

  /** Called by the binding for every WebSocket message. */
  receive(data: WireData): void {
    if (this.phase === 'closed') return;
    // Probe answers are most of what an idle server receives: read them without the decoder.
    if (this.phase === 'open' && data instanceof Uint8Array) {
      const id = probeAnswerId(data);
      if (id >= 0) {
        this.confirmToken();
        this.onProbeAnswer(id);
        return;
      }
    }
    let frame: ClientFrame;
    try {
      // Frames only servers send (WELCOME, PROBE) are refused here as `unexpected-frame`.
      frame = decodeFromClient(data, this.host.options.maxPayloadBytes);
      this.dispatch(frame);
    } catch (error) {
      if (error instanceof ProtocolError) this.fail(error.code, error.closeCode, error.message);
      else throw error;
    }
  }

  private dispatch(frame: ClientFrame): void {
    if (this.phase === 'handshake') {
      if (frame.type !== FrameType.HELLO) throw unexpected(frame, 'before hello');
      this.onHello(frame);
      return;
    }
    const peer = this.peer;
    if (this.phase !== 'open' || peer === null) throw unexpected(frame, 'before welcome');
    this.confirmToken();
    switch (frame.type) {
      case FrameType.MESSAGE:
        peer.receive(frame);
        return;
      case FrameType.PROBE_ANSWER:
        this.onProbeAnswer(frame.id);
        if (frame.ack !== null) peer.acknowledge(frame.ack);
        return;
      case FrameType.ACK:
        peer.acknowledge(frame.seq);
        return;
      case FrameType.GOODBYE:
        peer.goodbye();
        return;
      default:
        throw unexpected(frame, 'after welcome');
    }
  }

  /** The first frame on a resumed connection proves the client holds the new token. */
  private confirmToken(): void {
    if (this.tokenConfirmed) return;
    this.tokenConfirmed = true;
    this.peer?.confirmToken();
  }

  private onHello(hello: HelloFrame): void {
    if (hello.version !== PROTOCOL_VERSION) {
      const message = `protocol version ${hello.version} is not supported (server speaks ${PROTOCOL_VERSION})`;
      this.fail('unsupported-version', CloseCode.UNSUPPORTED_VERSION, message);
      return;
    }
    this.phase = 'welcoming';
    this.host.hello(this, hello).catch((error: unknown) => {
      // The detail is for the server's log only: the peer gets a stable reason.
      this.host.connectionError(this, 'internal-error', CloseCode.INTERNAL_ERROR, String(error));
      this.closeWith(CloseCode.INTERNAL_ERROR, 'internal error');
    });
  }

  /**
   * @internal the welcome was sent: start probing at a random one of {@link PROBE_PHASES}
   * phases of the interval. Connections stay spread over the interval, yet each wake-up of
   * the event loop sends a batch of probes (and receives a batch of answers), which costs
   * measurably less CPU than one wake-up per connection.
   */
  opened(peer: ConnectionPeer): void {
    if (this.phase !== 'welcoming') return;
    this.phase = 'open';
    this.peer = peer;
    this.request = undefined;
    this.tokenConfirmed = false;
    const { probeIntervalMs } = this.host.options;
    const phaseMs = probeIntervalMs / PROBE_PHASES;
    this.answeredAt = this.host.now();
    const first = this.answeredAt + Math.random() * probeIntervalMs;
    this.host.wheel.schedule(this, Math.ceil(first / phaseMs) * phaseMs);
  }

  /** @internal wheel callback: handshake deadline, next probe, or probe deadline. */
  onWheelTimer(now: number): void {
    if (this.phase === 'handshake' || this.phase === 'welcoming') {
      this.fail(
        'handshake-timeout',
        CloseCode.HANDSHAKE_TIMEOUT,
        'no hello within the handshake timeout',
      );
    } else if (this.phase === 'open') {
      if (this.probePending) {
        this.host.probes?.timedOut(now - this.answeredAt);
        this.lost('probe-timeout');
      } else this.sendProbe(now);
    }
  }

  private sendProbe(now: number): void {
    this.probeId = this.probeId >= MAX_PROBE_ID ? 1 : this.probeId + 1;
    this.probeSentAt = now;
    this.probeDueAt = this.wheelAt;
    this.probePending = true;
    this.transport.send(encodeProbe(this.probeId));
    this.host.wheel.schedule(this, now + this.host.options.probeTimeoutMs);
  }

  private onProbeAnswer(id: number): void {
    // An answer to anything but the outstanding probe is stale; the deadline still stands.
    if (!this.probePending || id !== this.probeId) return;
    this.probePending = false;
    const rtt = this.host.now() - this.probeSentAt;
    this.peer?.probeAnswered(rtt);
    // Next probe one interval after this one was due (skipping any intervals an event-loop
    // stall swallowed), so the connection keeps its phase.
    const { probeIntervalMs } = this.host.options;
    const now = this.probeSentAt + rtt;
    this.answeredAt = now;
    this.host.probes?.answered(rtt);
    let next = this.probeDueAt + probeIntervalMs;
    if (next < now) next += Math.ceil((now - next) / probeIntervalMs) * probeIntervalMs;
    this.host.wheel.schedule(this, next);
  }

  /** Sends a goodbye with `code` and closes; the session, if any, is the caller's business. */
  closeWith(code: number, fullReason: string): void {
    if (this.phase === 'closed') return;
    const reason = clampReason(fullReason);
    this.transport.send(encodeGoodbye(code, reason));
    this.transport.close(code, reason);
    this.detach();
  }

  /** Adds a log entry (`'connection-error'`) for this connection without closing it. */
  report(code: string, closeCode: number, message: string): void {
    if (this.phase !== 'closed') this.host.connectionError(this, code, closeCode, message);
  }

  /**
   * Refuses the peer: log entry, goodbye with the close code, and the session (if any) is told:
   * it ends after a final code, and waits for a resume after a retryable one (a sequence gap).
   */
  fail(code: string, closeCode: number, message: string): void {
    if (this.phase === 'closed') return;
    this.host.connectionError(this, code, closeCode, message);
    const sent = this.peer?.disconnected(this, 'error', closeCode) ?? closeCode;
    this.closeWith(sent, sent === closeCode ? message : 'too many sequence gaps');
  }

  /** The path is dead: drop the socket at once (a close handshake would hang on it). */
  private lost(reason: SuspendReason): void {
    const peer = this.peer;
    this.transport.terminate();
    this.detach();
    peer?.disconnected(this, reason);
  }

  /** Called by the binding when the socket closed, whoever closed it. */
  closed(code: number): void {
    if (this.phase === 'closed') return;
    const peer = this.peer;
    this.detach();
    peer?.disconnected(this, code === CloseCode.ABNORMAL ? 'reset' : 'closed');
  }

  /** Called by the binding on a socket error (the close follows). */
  transportError(error: Error & { code?: string }): void {
    if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      this.fail('too-large', CloseCode.MESSAGE_TOO_BIG, error.message);
    } else if (error.code?.startsWith('WS_ERR_')) {
      this.fail('invalid-websocket-frame', CloseCode.PROTOCOL_ERROR, error.message);
    }
  }

  /** Closes without telling the session: its owner already moved it elsewhere. */
  release(code: number, reason: string): void {
    this.peer = null;
    this.closeWith(code, reason);
  }

  private detach(): void {
    this.phase = 'closed';
    this.host.wheel.cancel(this);
    this.peer = null;
    this.host.connectionClosed(this);
  }
}

function uncork(connection: Connection): void {
  connection.flushWrites();
}

function unexpected(frame: ClientFrame, when: string): ProtocolError {
  return new ProtocolError('unexpected-frame', `frame type ${frame.type} is not allowed ${when}`);
}
