import {
  CloseCode,
  clampReason,
  closeCodeName,
  decodeFromServer,
  decodeMessageData,
  encodeAck,
  encodeGoodbye,
  encodeHello,
  encodeMessage,
  encodeProbeAnswer,
  endsSession,
  FrameType,
  InboundSequence,
  isRetryableClose,
  PROTOCOL_VERSION,
  ProbeError,
  ProtocolError,
  ReplayBuffer,
  type ServerFrame,
  type WelcomeFrame,
  type WireData,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import { backoffDelay } from './backoff.js';
import type { ClientEvents, ClientState, SessionLostReason } from './events.js';
import {
  type ProbeClientOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
  type WebSocketLike,
} from './options.js';
import { Watchdog } from './watchdog.js';

type Timer = ReturnType<typeof setTimeout> | undefined;
/** What `ws` keeps in `_socket`: Node's net.Socket. */
type NodeSocket = { writableCorked: number; cork(): void; uncork(): void };

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
  readonly #options: ResolvedClientOptions;
  readonly #outbound = new ReplayBuffer();
  readonly #inbound = new InboundSequence();
  /** Before the welcome the connect deadline, after it the server-silence bound. */
  readonly #watchdog = new Watchdog((silentMs) =>
    this.#welcomed
      ? this.#drop(
          CloseCode.PROBE_TIMEOUT,
          `no frame from the server for ${Math.round(silentMs)} ms`,
        )
      : this.#drop(CloseCode.CONNECT_TIMEOUT, 'connect timeout'),
  );
  /**
   * Secret for the next resume. TS-private rather than #private: the hostile-scale suite
   * (tests/src/hostile-scale.test.ts) reads it to forge near-miss tokens.
   */
  private token: string | null = null;
  #socket: WebSocketLike | null = null;
  /** A welcome arrived on the current socket (so it is set, and the session open). */
  #welcomed = false;
  #goodbye: { code: number; reason: string } | null = null;
  #attempt = 0;
  #generation = 0;
  /** When the current connection was welcomed; 0 when there is none. */
  #openedAt = 0;
  /** Highest sequence number written to a connection that was open at the time. */
  #writtenSeq = 0;
  #aboveHighWater = false;
  /** Set while a retry waits out its backoff. */
  #retryTimer: Timer;
  /** Set while a received message waits for its acknowledgement. */
  #ackTimer: Timer;

  constructor(url: string, options: ProbeClientOptions = {}) {
    super();
    this.url = url;
    this.#options = resolveClientOptions(options);
    if (this.#options.autoConnect) this.connect();
  }

  /** Starts connecting (automatic unless `autoConnect: false`); a no-op unless `closed`. */
  connect(): void {
    if (this.state !== 'closed') return;
    this.#attempt = 0;
    listen('addEventListener', this.#onOnline, this.#onVisible);
    this.#setState('connecting');
    void this.#open();
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
    this.#watchdog.check();
    const outbound = this.#outbound;
    const frame = encodeMessage(outbound.nextSeq, data);
    const { maxQueueMessages, maxQueueBytes, highWaterMarkBytes } = this.#options;
    if (outbound.size >= maxQueueMessages || outbound.bytes + frame.length > maxQueueBytes) {
      throw new ProbeError(
        'queue-full',
        `send queue is full (${outbound.size} messages, ${outbound.bytes} bytes unacknowledged)`,
      );
    }
    outbound.push(frame);
    if (this.#welcomed) {
      this.#write(frame);
      this.#writtenSeq = outbound.lastSeq;
    }
    if (outbound.bytes > highWaterMarkBytes) this.#aboveHighWater = true;
    return !this.#aboveHighWater;
  }

  /** Unacknowledged messages and bytes (sent or queued). */
  get buffered(): { messages: number; bytes: number } {
    return { messages: this.#outbound.size, bytes: this.#outbound.bytes };
  }

  /**
   * Ends the session on the server at once and stops reconnecting. Messages already written
   * reach the server before the goodbye; messages still queued are reported in `'close'`.
   */
  close(): void {
    if (this.state === 'closed') return;
    if (this.#welcomed) this.#write(encodeGoodbye(CloseCode.NORMAL, 'client closed'));
    this.#finish(CloseCode.NORMAL, 'client closed');
  }

  async #open(): Promise<void> {
    const generation = ++this.#generation;
    const { auth, WebSocket } = this.#options;
    let credentials: unknown;
    try {
      credentials = typeof auth === 'function' ? await auth.call(this) : auth;
    } catch (error) {
      this.#report(error);
      if (generation === this.#generation) {
        this.#disconnected(CloseCode.ABNORMAL, 'auth function failed');
      }
      return;
    }
    if (generation !== this.#generation || this.state === 'closed') return;
    let socket: WebSocketLike;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.#report(error);
      this.#finish(CloseCode.ABNORMAL, `cannot open ${this.url}: ${String(error)}`);
      return;
    }
    // `ws` in Node can hand over its buffers as they are; browsers only know 'arraybuffer'.
    socket.binaryType = 'nodebuffer';
    if (socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#goodbye = null;
    this.#watchdog.start(this.#options.reconnect.connectTimeoutMs);
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      // Built at send time, so messages queued while connecting are announced in sentSeq.
      const { sessionId } = this;
      const token = this.token;
      const resume =
        sessionId && token
          ? { sessionId, token, lastSeq: this.#inbound.lastSeq, sentSeq: this.#outbound.lastSeq }
          : null;
      this.#write(encodeHello(PROTOCOL_VERSION, credentials, resume));
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#receive(event.data as WireData);
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      const { code, reason } = this.#goodbye ?? event;
      this.#drop(code, reason);
    };
    socket.onerror = () => {
      // A close event always follows; it carries what we need.
    };
  }

  #receive(data: WireData): void {
    try {
      const frame = decodeFromServer(data, this.#options.maxPayloadBytes);
      // Before the welcome the connect deadline stands, whatever else arrives.
      if (this.#welcomed) this.#watchdog.heard();
      this.#dispatch(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#report(error);
      this.#drop(error.closeCode, error.message, true);
    }
  }

  #dispatch(frame: ServerFrame): void {
    if (frame.type === FrameType.GOODBYE) {
      this.#goodbye = frame;
    } else if (frame.type === FrameType.WELCOME) {
      if (this.#welcomed) throw new ProtocolError('unexpected-frame', 'a second welcome arrived');
      this.#onWelcome(frame);
    } else if (!this.#welcomed) {
      throw new ProtocolError(
        'unexpected-frame',
        `frame type ${frame.type} arrived before the welcome`,
      );
    } else if (frame.type === FrameType.PROBE) {
      // Answered before anything else runs, carrying any ack that is due.
      this.#write(encodeProbeAnswer(frame.id, this.#inbound.takeAck()));
    } else if (frame.type === FrameType.ACK) {
      this.#outbound.ack(frame.seq);
      this.#checkDrain();
    } else {
      this.#onMessage(frame.seq, frame.data);
    }
  }

  #onWelcome(welcome: WelcomeFrame): void {
    const inbound = this.#inbound;
    const outbound = this.#outbound;
    const { sessionId, lastSeq, sentSeq } = welcome;
    const resumed = welcome.resumed && sessionId === this.sessionId;
    if (resumed && sentSeq < inbound.lastSeq) {
      throw new ProtocolError('bad-sequence', 'welcome forgets messages already delivered');
    }
    if (!resumed) {
      if (this.sessionId !== null) this.#loseSession(CloseCode.SESSION_UNKNOWN);
      inbound.reset();
    }
    outbound.ack(lastSeq);
    this.sessionId = sessionId;
    this.token = welcome.token;
    this.#welcomed = true;
    this.#openedAt = Date.now();
    this.#watchdog.start(
      welcome.probeIntervalMs + welcome.probeTimeoutMs + this.#options.watchdogSlackMs,
    );
    const replay = outbound.since(lastSeq);
    for (const frame of replay) this.#write(frame);
    this.#writtenSeq = outbound.lastSeq;
    this.#setState('open');
    this.emit('open', { sessionId, resumed });
    if (resumed) {
      this.emit('resume', {
        sessionId,
        replayedToServer: replay.length,
        replayedFromServer: sentSeq - inbound.lastSeq,
      });
    }
    this.#checkDrain();
  }

  #onMessage(seq: number, data: unknown): void {
    if (!this.#inbound.accept(seq)) return;
    if (this.#inbound.ackDue) this.#flushAck();
    else this.#ackTimer ??= setTimeout(() => this.#flushAck(), this.#options.ackDelayMs);
    try {
      this.emit('message', data as In);
    } catch (error) {
      this.#report(error);
    }
  }

  #checkDrain(): void {
    if (this.#aboveHighWater && this.#outbound.bytes <= this.#options.highWaterMarkBytes) {
      this.#aboveHighWater = false;
      this.emit('drain');
    }
  }

  #flushAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const ack = this.#welcomed && this.#inbound.takeAck();
    if (typeof ack === 'number') this.#write(encodeAck(ack));
  }

  /**
   * Sends one frame. In Node the frames of one turn of the event loop go out as one socket
   * write (browsers batch on their own); a syscall per frame is what costs most at high rates.
   */
  #write(frame: Uint8Array): void {
    const socket = this.#socket;
    if (!socket) return;
    const tcp = (socket as { _socket?: NodeSocket | null })._socket;
    if (tcp && !tcp.writableCorked) {
      tcp.cork();
      queueMicrotask(() => tcp.uncork());
    }
    // Frames are encoded into ordinary (not shared) ArrayBuffers.
    socket.send(frame as Uint8Array<ArrayBuffer>);
  }

  /**
   * Abandons the current socket and goes on as after a close with `code`. Without `handshake`
   * the socket is dropped at once (a close handshake would hang on a dead path).
   */
  #drop(code: number, reason: string, handshake = false): void {
    if (!this.#socket) return;
    if (handshake) this.#releaseSocket(code, reason);
    else this.#releaseSocket();
    this.#disconnected(code, reason);
  }

  /** Detaches and closes the current socket, if any, and stops its timers. */
  #releaseSocket(code?: number, reason = ''): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#welcomed = false;
    this.#watchdog.stop();
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    // The server re-learns what we received from the next hello.
    this.#inbound.forgetAck();
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => {};
    try {
      if (code === undefined && socket.terminate) socket.terminate();
      else socket.close(code === undefined || code < 3000 ? 1000 : code, clampReason(reason));
    } catch {
      // Closing a socket that never opened may throw in some implementations; it is gone either way.
    }
  }

  #disconnected(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const { reconnect, random } = this.#options;
    // Only a connection that was welcomed has an uptime; a failed attempt has none.
    if (this.#openedAt && Date.now() - this.#openedAt >= reconnect.minUptimeMs) this.#attempt = 0;
    this.#openedAt = 0;
    if (endsSession(code)) this.#loseSession(code);
    if (!isRetryableClose(code)) {
      this.#finish(code, reason);
    } else if (++this.#attempt > reconnect.maxAttempts) {
      this.#finish(code, `gave up after ${reconnect.maxAttempts} attempts: ${reason}`);
    } else {
      const delayMs = backoffDelay(this.#attempt, reconnect, random);
      // 'connecting' stays until a first session opened.
      if (this.state === 'open') this.#setState('reconnecting');
      this.emit('disconnect', { code, reason, attempt: this.#attempt, delayMs });
      this.#scheduleRetry(delayMs);
    }
  }

  #scheduleRetry(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Forgets the session (id, token, both directions); returns the frames still queued. */
  #forget(): Uint8Array[] {
    this.sessionId = this.token = null;
    this.#writtenSeq = 0;
    this.#inbound.reset();
    return this.#outbound.reset();
  }

  #loseSession(code: number): void {
    const { sessionId } = this;
    const unconfirmed = this.#forget().map(decodeMessageData) as Out[];
    const reason = closeCodeName(code).toLowerCase().replaceAll('_', '-') as SessionLostReason;
    this.emit('session-lost', { reason, code, sessionId, unconfirmed });
    this.#checkDrain();
  }

  #finish(code: number, reason: string): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#generation++;
    this.#releaseSocket(CloseCode.NORMAL, reason);
    listen('removeEventListener', this.#onOnline, this.#onVisible);
    const unsent = this.#outbound.since(this.#writtenSeq).map(decodeMessageData) as Out[];
    this.#forget();
    this.#setState('closed');
    this.emit('close', { code, reason, unsent });
  }

  #setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  #report(error: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else console.error('[probe] client error:', error);
  }

  /** Browsers: back online → try now instead of waiting out the backoff. */
  readonly #onOnline = (): void => {
    if (this.#retryTimer !== undefined && !this.#socket) this.#scheduleRetry(0);
  };

  /** Browsers: a tab coming back to the foreground checks the watchdog at once. */
  readonly #onVisible = (): void => {
    this.#watchdog.check();
  };
}

type Listener = () => void;
type Listen = (type: string, listener: Listener) => void;
type Target = { addEventListener?: Listen; removeEventListener?: Listen };

/** Browsers only: the `online` and `visibilitychange` events; elsewhere a no-op. */
function listen(
  method: 'addEventListener' | 'removeEventListener',
  onOnline: Listener,
  onVisible: Listener,
): void {
  const g = globalThis as Target & { document?: Target };
  g[method]?.('online', onOnline);
  g.document?.[method]?.('visibilitychange', onVisible);
}
