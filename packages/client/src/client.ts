import {
  CloseCode,
  clampReason,
  closeCodeName,
  decode,
  decodeMessageData,
  encode,
  encodeAck,
  encodeMessage,
  encodeProbeAnswer,
  endsSession,
  type Frame,
  FrameType,
  InboundSequence,
  isRetryableClose,
  PROTOCOL_VERSION,
  ProbeError,
  ProtocolError,
  ReplayBuffer,
  type WelcomeFrame,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import WebSocketImpl from 'isomorphic-ws';
import { backoffDelay } from './backoff.js';
import type { ClientEvents, ClientState, SessionLostReason } from './events.js';
import {
  type ProbeClientOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './options.js';
import { Watchdog } from './watchdog.js';

/** Messages every ack at most covers before one is sent without waiting. */
const ACK_EVERY = 128;

/**
 * Probe client for browsers and Node. Answers the server's probes by itself, notices a silent
 * server, reconnects with jittered backoff and resumes its session, so every message in both
 * directions arrives exactly once and in order across reconnects.
 *
 * @example
 * const client = new ProbeClient('wss://example.com/probe', { auth: () => getToken() });
 * client.on('message', (data) => console.log(data));
 * client.on('session-lost', ({ unconfirmed }) => unconfirmed.forEach((m) => client.send(m)));
 * client.send({ hello: 'world' }); // queued until the session opens
 *
 * @typeParam In messages the server sends; @typeParam Out messages this client sends.
 */
export class ProbeClient<In = unknown, Out = unknown> extends EventEmitter<ClientEvents<In, Out>> {
  state: ClientState = 'closed';
  /** Id of the current session (null before the first welcome or after it was lost). */
  sessionId: string | null = null;
  readonly url: string;
  private readonly options: ResolvedClientOptions;
  private readonly auth: ProbeClientOptions['auth'];
  private readonly WebSocket: WebSocketConstructor;
  private readonly outbound = new ReplayBuffer();
  private readonly inbound = new InboundSequence();
  private readonly watchdog: Watchdog;
  private token: string | null = null;
  private socket: WebSocketLike | null = null;
  private welcomed = false;
  private everOpened = false;
  private goodbye: { code: number; reason: string } | null = null;
  private attempt = 0;
  private generation = 0;
  private openedAt = 0;
  /** How long the connection that just dropped had been open (0 if it never opened). */
  private uptimeMs = 0;
  /** Highest sequence number written to a connection that was open at the time. */
  private writtenSeq = 0;
  private aboveHighWater = false;
  private corked = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string, options: ProbeClientOptions = {}) {
    super();
    this.url = url;
    this.options = resolveClientOptions(options);
    this.auth = options.auth;
    this.WebSocket = options.WebSocket ?? (WebSocketImpl as unknown as WebSocketConstructor);
    this.watchdog = new Watchdog((silentMs) => {
      this.drop(CloseCode.PROBE_TIMEOUT, `no frame from the server for ${Math.round(silentMs)} ms`);
    });
    if (this.options.autoConnect) this.connect();
  }

  /** Starts connecting (automatic unless `autoConnect: false`); a no-op unless `closed`. */
  connect(): void {
    if (this.state !== 'closed') return;
    this.attempt = 0;
    this.everOpened = false;
    addBrowserListeners(this.onOnline, this.onVisible);
    this.setState('connecting');
    void this.open();
  }

  /**
   * Sends a message: delivered exactly once and in order, across reconnects. While offline it
   * is queued and sent when the session resumes.
   * @returns false when unacknowledged data passed `highWaterMarkBytes`: wait for `'drain'`.
   * @throws {ProbeError} `queue-full` when the replay queue limit would be passed (nothing is
   * queued), `client-closed` after the client closed.
   */
  send(data: Out): boolean {
    if (this.state === 'closed') throw new ProbeError('client-closed', 'the client is closed');
    if (this.welcomed) this.watchdog.check();
    const frame = encodeMessage(this.outbound.nextSeq, data);
    const { maxQueueMessages, maxQueueBytes, highWaterMarkBytes } = this.options;
    if (
      this.outbound.size >= maxQueueMessages ||
      this.outbound.bytes + frame.length > maxQueueBytes
    ) {
      throw new ProbeError(
        'queue-full',
        `send queue is full (${this.outbound.size} messages, ${this.outbound.bytes} bytes unacknowledged)`,
      );
    }
    this.outbound.push(frame);
    if (this.welcomed && this.socket) {
      this.write(frame);
      this.writtenSeq = this.outbound.lastSeq;
    }
    if (this.outbound.bytes > highWaterMarkBytes) this.aboveHighWater = true;
    return !this.aboveHighWater;
  }

  /** Unacknowledged messages and bytes (sent or queued). */
  get buffered(): { messages: number; bytes: number } {
    return { messages: this.outbound.size, bytes: this.outbound.bytes };
  }

  /**
   * Ends the session on the server at once and stops reconnecting. Messages already written
   * reach the server before the goodbye; messages still queued are reported in `'close'`.
   */
  close(): void {
    if (this.state === 'closed') return;
    if (this.welcomed) {
      this.write(
        encode({ type: FrameType.GOODBYE, code: CloseCode.NORMAL, reason: 'client closed' }),
      );
    }
    this.releaseSocket(CloseCode.NORMAL, 'client closed');
    this.finish(CloseCode.NORMAL, 'client closed');
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    let auth: unknown;
    try {
      auth = typeof this.auth === 'function' ? await this.auth() : this.auth;
    } catch (error) {
      this.report(error);
      if (generation === this.generation)
        this.disconnected(CloseCode.ABNORMAL, 'auth function failed');
      return;
    }
    if (generation !== this.generation || this.state === 'closed') return;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocket(this.url);
    } catch (error) {
      this.report(error);
      this.finish(CloseCode.ABNORMAL, `cannot open ${this.url}: ${String(error)}`);
      return;
    }
    // `ws` in Node can hand over its buffers as they are; browsers only know 'arraybuffer'.
    socket.binaryType = 'nodebuffer';
    if (socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.goodbye = null;
    this.connectTimer = setTimeout(
      () => this.drop(CloseCode.CONNECT_TIMEOUT, 'connect timeout'),
      this.options.reconnect.connectTimeoutMs,
    );
    socket.onopen = () => {
      // Built at send time, so messages queued while connecting are announced in sentSeq.
      const resume =
        this.sessionId && this.token
          ? {
              sessionId: this.sessionId,
              token: this.token,
              lastSeq: this.inbound.lastSeq,
              sentSeq: this.outbound.lastSeq,
            }
          : null;
      if (socket !== this.socket) return;
      this.write(
        encode({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: auth ?? null, resume }),
      );
    };
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      const { code, reason } = this.goodbye ?? event;
      this.releaseSocket();
      this.disconnected(code, reason);
    };
    socket.onerror = () => {
      // A close event always follows; it carries what we need.
    };
  }

  private receive(data: unknown): void {
    let frame: Frame;
    try {
      const bytes =
        data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array | string);
      frame = decode(bytes, this.options.maxPayloadBytes);
      this.watchdog.heard();
      this.dispatch(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.report(error);
      this.releaseSocket(error.closeCode, error.message);
      this.disconnected(error.closeCode, error.message);
    }
  }

  private dispatch(frame: Frame): void {
    if (!this.welcomed && frame.type !== FrameType.WELCOME && frame.type !== FrameType.GOODBYE) {
      throw new ProtocolError(
        'unexpected-frame',
        `frame type ${frame.type} arrived before the welcome`,
      );
    }
    switch (frame.type) {
      case FrameType.PROBE:
        // Answered before anything else runs, carrying any ack that is due.
        this.write(encodeProbeAnswer(frame.id, this.inbound.takeAck()));
        return;
      case FrameType.MESSAGE:
        this.onMessage(frame.seq, frame.data);
        return;
      case FrameType.ACK:
        this.onAck(frame.seq);
        return;
      case FrameType.WELCOME:
        if (this.welcomed) throw new ProtocolError('unexpected-frame', 'a second welcome arrived');
        this.onWelcome(frame);
        return;
      case FrameType.GOODBYE:
        this.goodbye = { code: frame.code, reason: frame.reason };
        return;
      default:
        throw new ProtocolError(
          'unexpected-frame',
          `frame type ${frame.type} is not sent by servers`,
        );
    }
  }

  private onWelcome(welcome: WelcomeFrame): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const resumed = welcome.resumed && welcome.sessionId === this.sessionId;
    if (resumed && welcome.sentSeq < this.inbound.lastSeq) {
      throw new ProtocolError('bad-sequence', 'welcome forgets messages already delivered');
    }
    if (!resumed) {
      if (this.sessionId !== null) this.loseSession(CloseCode.SESSION_UNKNOWN);
      this.inbound.reset();
    }
    this.outbound.ack(welcome.lastSeq);
    this.sessionId = welcome.sessionId;
    this.token = welcome.token;
    this.welcomed = true;
    this.everOpened = true;
    this.openedAt = Date.now();
    const { probeIntervalMs, probeTimeoutMs } = welcome;
    this.watchdog.start(probeIntervalMs + probeTimeoutMs + this.options.watchdogSlackMs);
    const replay = this.outbound.since(welcome.lastSeq);
    for (const frame of replay) this.write(frame);
    this.writtenSeq = this.outbound.lastSeq;
    this.setState('open');
    this.emit('open', { sessionId: welcome.sessionId, resumed });
    if (resumed)
      this.emit('resume', {
        sessionId: welcome.sessionId,
        replayedToServer: replay.length,
        replayedFromServer: welcome.sentSeq - this.inbound.lastSeq,
      });
    this.checkDrain();
  }

  private onMessage(seq: number, data: unknown): void {
    if (!this.inbound.accept(seq)) return;
    if (this.inbound.unacked >= ACK_EVERY) this.flushAck();
    else if (this.ackTimer === null) {
      this.ackTimer = setTimeout(() => this.flushAck(), this.options.ackDelayMs);
    }
    try {
      this.emit('message', data as In);
    } catch (error) {
      this.report(error);
    }
  }

  private onAck(seq: number): void {
    this.outbound.ack(seq);
    this.checkDrain();
  }

  private checkDrain(): void {
    if (this.aboveHighWater && this.outbound.bytes <= this.options.highWaterMarkBytes) {
      this.aboveHighWater = false;
      this.emit('drain');
    }
  }

  private flushAck(): void {
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (!this.welcomed || !this.socket) return;
    const ack = this.inbound.takeAck();
    if (ack !== null) this.write(encodeAck(ack));
  }

  /**
   * Sends one frame. In Node the frames of one turn of the event loop go out as one socket
   * write (browsers batch on their own); a syscall per frame is what costs most at high rates.
   */
  private write(frame: Uint8Array): void {
    const socket = this.socket;
    if (!socket) return;
    const tcp = (socket as { _socket?: { cork(): void; uncork(): void } | null })._socket;
    if (tcp && !this.corked) {
      this.corked = true;
      tcp.cork();
      queueMicrotask(() => {
        this.corked = false;
        tcp.uncork();
      });
    }
    // Frames are encoded into ordinary (not shared) ArrayBuffers.
    socket.send(frame as Uint8Array<ArrayBuffer>);
  }

  /** Abandons the current socket at once (a close handshake would hang on a dead path). */
  private drop(code: number, reason: string): void {
    if (!this.socket) return;
    this.releaseSocket();
    this.disconnected(code, reason);
  }

  /** Detaches and closes the current socket, if any, and stops its timers. */
  private releaseSocket(code?: number, reason?: string): void {
    const socket = this.socket;
    this.socket = null;
    // Only a connection that was welcomed has an uptime; a failed attempt has none.
    this.uptimeMs = this.welcomed ? Date.now() - this.openedAt : 0;
    this.welcomed = false;
    this.watchdog.stop();
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.connectTimer = null;
    this.ackTimer = null;
    // The server re-learns what we received from the next hello.
    this.inbound.forgetAck();
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => {};
    try {
      if (code === undefined && socket.terminate) socket.terminate();
      else socket.close(code === undefined || code < 3000 ? 1000 : code, clampReason(reason ?? ''));
    } catch {
      // Closing a socket that never opened may throw in some implementations; it is gone either way.
    }
  }

  private disconnected(code: number, reason: string): void {
    if (this.state === 'closed') return;
    if (this.uptimeMs >= this.options.reconnect.minUptimeMs) this.attempt = 0;
    this.uptimeMs = 0;
    if (endsSession(code)) this.loseSession(code);
    if (!isRetryableClose(code)) {
      this.finish(code, reason);
      return;
    }
    this.attempt++;
    const { reconnect, random } = this.options;
    if (this.attempt > reconnect.maxAttempts) {
      this.finish(code, `gave up after ${reconnect.maxAttempts} attempts: ${reason}`);
      return;
    }
    const delayMs = backoffDelay(this.attempt, reconnect, random);
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    this.emit('disconnect', { code, reason, attempt: this.attempt, delayMs });
    this.scheduleRetry(delayMs);
  }

  private scheduleRetry(delayMs: number): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, delayMs);
  }

  private loseSession(code: number): void {
    const sessionId = this.sessionId;
    const unconfirmed = this.outbound.reset().map((frame) => decodeMessageData(frame) as Out);
    this.sessionId = null;
    this.token = null;
    this.writtenSeq = 0;
    this.inbound.reset();
    const reason = closeCodeName(code).toLowerCase().replaceAll('_', '-') as SessionLostReason;
    this.emit('session-lost', { reason, code, sessionId, unconfirmed });
    this.checkDrain();
  }

  private finish(code: number, reason: string): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.generation++;
    this.releaseSocket(CloseCode.NORMAL, reason);
    removeBrowserListeners(this.onOnline, this.onVisible);
    const unsent = this.outbound
      .since(this.writtenSeq)
      .map((frame) => decodeMessageData(frame) as Out);
    this.outbound.reset();
    this.inbound.reset();
    this.sessionId = null;
    this.token = null;
    this.writtenSeq = 0;
    this.setState('closed');
    this.emit('close', { code, reason, unsent });
  }

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('[probe] client error:', error);
  }

  /** Browsers: back online → try now instead of waiting out the backoff. */
  private readonly onOnline = (): void => {
    if (this.retryTimer === null || this.socket) return;
    this.scheduleRetry(0);
  };

  /** Browsers: a tab coming back to the foreground checks the watchdog at once. */
  private readonly onVisible = (): void => {
    this.watchdog.check();
  };
}

type Listener = () => void;
interface BrowserGlobals {
  addEventListener?: (type: string, listener: Listener) => void;
  removeEventListener?: (type: string, listener: Listener) => void;
  document?: {
    addEventListener(type: string, l: Listener): void;
    removeEventListener(type: string, l: Listener): void;
  };
}

function addBrowserListeners(onOnline: Listener, onVisible: Listener): void {
  const g = globalThis as BrowserGlobals;
  g.addEventListener?.('online', onOnline);
  g.document?.addEventListener('visibilitychange', onVisible);
}

function removeBrowserListeners(onOnline: Listener, onVisible: Listener): void {
  const g = globalThis as BrowserGlobals;
  g.removeEventListener?.('online', onOnline);
  g.document?.removeEventListener('visibilitychange', onVisible);
}
