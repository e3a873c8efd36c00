import {
  Calls,
  CloseCode,
  checkEventName,
  clampReason,
  closeCodeName,
  Delivery,
  decodeFromServer,
  type EventArgs,
  type EventMap,
  encodeAck,
  encodeGoodbye,
  encodeHello,
  encodeMessage,
  encodeProbeAnswer,
  endsSession,
  FrameType,
  isRetryableClose,
  type Listeners,
  type MessageFrame,
  type NameOf,
  type NoSchema,
  PROTOCOL_VERSION,
  ProbeError,
  type ProbeSchema,
  ProtocolError,
  type ReplyKind,
  type RequestOptions,
  type RequestPayload,
  type RequestReply,
  type ServerFrame,
  type WelcomeFrame,
  type WireData,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import type { ClientEvents, ClientState, SessionLostReason } from './events.js';
import {
  type ProbeClientOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
  type WebSocketLike,
} from './options.js';
import { decodeRecovery, encodeRecovery } from './recovery.js';
import { RetryPolicy } from './retry.js';
import { openSocket, releaseSocket, writeFrame } from './socket.js';
import { sortUnconfirmed, type Unconfirmed } from './unconfirmed.js';
import { Watchdog } from './watchdog.js';

type Timer = ReturnType<typeof setTimeout> | undefined;

/** Every event a client emits: its own, and the server's named events. */
type AllEvents<In, Out, S extends ProbeSchema> = ClientEvents<In, Out> &
  EventArgs<S['serverEvents'], ClientEvents<In, Out>>;

/** Options of a send: `volatile` messages go only over an open connection (see `send`). */
export interface SendOptions {
  volatile?: boolean;
}

/** Answers one of the server's requests; what it returns (or resolves with) is the reply. */
export type ClientRequestHandler<P = never, R = unknown> = (payload: P) => R | Promise<R>;

/** EventEmitter's own emit: the client's events reach its listeners through this. */
const emitOwn = EventEmitter.prototype.emit as (
  this: object,
  event: string | symbol,
  ...args: unknown[]
) => boolean;

// The client's base class, with `emit` left out: a client's `emit` sends a named event to the
// server (as Socket.IO's does); its own events go through `#emit`.
const Emitter = EventEmitter as unknown as new <E extends EventMap<E>>() => Listeners<E>;

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
 * @typeParam S named events and requests of both sides (see `DefineSchema`).
 */
export class ProbeClient<
  In = unknown,
  Out = unknown,
  S extends ProbeSchema = NoSchema,
> extends Emitter<AllEvents<In, Out, S>> {
  state: ClientState = 'closed';
  /** Id of the current session (null before the first welcome or after it was lost). */
  sessionId: string | null = null;
  readonly url: string;
  readonly #options: ResolvedClientOptions;
  readonly #delivery: Delivery;
  readonly #retry: RetryPolicy;
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
  /** Stopped by `close()`, a final code or a limit (until `connect()`); not before first use. */
  #ended = false;
  #generation = 0;
  /** Highest sequence number written to a connection that was open at the time. */
  #writtenSeq = 0;
  /** Largest frame the server accepts: from its welcome, the client's own limit before that. */
  #maxSendBytes: number;
  /** Set while a retry waits out its backoff. */
  #retryTimer: Timer;
  /** Set while a received message waits for its acknowledgement. */
  #ackTimer: Timer;
  /** Requests either way: this client's pending ones, and its handlers of the server's. */
  readonly #calls: Calls<[]>;

  constructor(url: string, options: ProbeClientOptions = {}) {
    super();
    this.url = url;
    const resolved = resolveClientOptions(options);
    this.#options = resolved;
    this.#maxSendBytes = resolved.maxPayloadBytes;
    this.#retry = new RetryPolicy(resolved.reconnect, resolved.random);
    this.#delivery = new Delivery({
      maxMessages: resolved.maxQueueMessages,
      maxBytes: resolved.maxQueueBytes,
      highWaterMarkBytes: resolved.highWaterMarkBytes,
    });
    this.#calls = new Calls(
      {
        request: (data, event) => {
          const seq = this.#delivery.nextSeq;
          this.#send(data, event, seq, null);
          return seq;
        },
        reply: (data, call, kind) => this.#send(data, null, call, kind),
        report: (error) => this.#report(error),
      },
      resolved.requestTimeoutMs,
    );
    if (resolved.recover !== null) this.#recover(resolved.recover);
    if (resolved.autoConnect) this.connect();
  }

  /**
   * Connects: the first time (with `autoConnect: false`), after `suspend()` resuming the
   * session, or after the client closed with a new session. A no-op while connected or
   * connecting.
   */
  connect(): void {
    if (this.state !== 'closed' && this.state !== 'suspended') return;
    this.#ended = false;
    this.#retry.reset();
    listen('addEventListener', this.#onOnline, this.#onVisible);
    this.#setState(this.sessionId ? 'reconnecting' : 'connecting');
    void this.#open();
  }

  /**
   * Drops the connection but keeps the session: the server holds it (and buffers what it
   * sends) for its `sessionTtlMs`, and `connect()` resumes it. `send()` queues meanwhile. For
   * an app going to the background, or a connection that should not stay open while idle.
   */
  suspend(): void {
    if (this.state === 'closed' || this.state === 'suspended') return;
    this.#stop();
    this.#setState('suspended');
  }

  /**
   * Sends a message: delivered exactly once and in order, across reconnects. While offline it
   * is queued and sent when the session resumes.
   *
   * With `{ volatile: true }` it is sent at most once, only if the session is open now: not
   * queued, not replayed, not acknowledged, not counted against the queue limits (cursor
   * positions, typing indicators: data useless when late).
   * @returns false when unacknowledged data passed `highWaterMarkBytes`: wait for `'drain'`.
   * Volatile: false when it was dropped (not connected).
   * @throws {ProbeError} `too-large` when the message is larger than the server accepts,
   * `queue-full` when the replay queue limit would be passed (nothing is queued in either
   * case), `client-closed` after the client closed.
   */
  send(data: Out, options?: SendOptions): boolean {
    return this.#send(data, null, null, null, options?.volatile);
  }

  /**
   * Sends the named event `event` to the server, where the session's `on(event)` listeners get
   * `payload`: exactly once and in order with every other message, or volatile as `send()`.
   * @returns as `send()`.
   * @throws {ProbeError} as `send()`, and `invalid-argument` for a name Probe reserves.
   */
  emit<K extends NameOf<S['clientEvents']>>(
    event: K,
    payload: S['clientEvents'][K],
    options?: SendOptions,
  ): boolean {
    return this.#send(payload, checkEventName(event), null, null, options?.volatile);
  }

  /**
   * Sends `data` as a request and resolves with what the session's request handler answered
   * (`session.handle(handler)` on the server). The request is delivered exactly once, across
   * reconnects (it waits through them; its handler never runs twice).
   * @param options.timeoutMs rejects with a `ProbeError` `timeout` (default `requestTimeoutMs`,
   * 30 s); a late reply is dropped.
   * @returns rejects also with a `RequestError` (the handler failed, `code` says how), a
   * `ProbeError` `session-lost` or `client-closed` when the session ended first, or as
   * `send()` throws.
   */
  request(data: Out, options?: RequestOptions): Promise<unknown> {
    return this.#calls.request(null, data, options);
  }

  /** As {@link request}, for the named request `event` (answered by `session.handle(event, …)`). */
  emitWithAck<K extends NameOf<S['clientRequests']>>(
    event: K,
    payload: RequestPayload<S['clientRequests'], K>,
    options?: RequestOptions,
  ): Promise<RequestReply<S['clientRequests'], K>> {
    return this.#calls.request(checkEventName(event), payload, options) as Promise<
      RequestReply<S['clientRequests'], K>
    >;
  }

  /**
   * Answers the server's named requests `event` (`session.emitWithAck(event, …)`), or with no
   * name its unnamed ones (`session.request(…)`): the handler's result (or what its promise
   * resolves with) is the reply; a thrown `RequestError` fails it with its code and message,
   * anything else fails it as `handler-failed` and is reported to `'error'`. One handler per
   * name; `null` removes it.
   */
  handle<K extends NameOf<S['serverRequests']>>(
    event: K,
    handler: ClientRequestHandler<
      RequestPayload<S['serverRequests'], K>,
      RequestReply<S['serverRequests'], K>
    > | null,
  ): this;
  handle(handler: ClientRequestHandler<In> | null): this;
  handle(
    event: string | ClientRequestHandler<never> | null,
    handler?: ClientRequestHandler<never> | null,
  ): this {
    if (typeof event === 'string') this.#calls.handle(checkEventName(event), handler ?? null);
    else this.#calls.handle(null, event);
    return this;
  }

  /**
   * A recovery key: everything needed to take this session up again in a new page or process
   * (`new ProbeClient(url, { recover: key })`), with nothing lost: the session, its resume
   * token, and every message the server has not acknowledged. Null without a session. Keep it
   * as a secret (it resumes the session) and use it once; see also the `recovery` option.
   */
  recoveryKey(): string | null {
    const { sessionId, token } = this;
    if (sessionId === null || token === null) return null;
    const { inbound, outbound } = this.#delivery;
    return encodeRecovery({
      sessionId,
      token,
      lastSeq: inbound.lastSeq,
      ackedSeq: outbound.lastSeq - outbound.size,
      writtenSeq: this.#writtenSeq,
      frames: outbound.since(outbound.lastSeq - outbound.size),
    });
  }

  #recover(key: string): void {
    const state = decodeRecovery(key);
    this.sessionId = state.sessionId;
    this.token = state.token;
    this.#delivery.outbound.restore(state.ackedSeq, state.frames);
    this.#delivery.inbound.lastSeq = state.lastSeq;
    this.#writtenSeq = state.writtenSeq;
  }

  #send(
    data: unknown,
    event: string | null,
    call: number | null,
    reply: ReplyKind | null,
    volatile = false,
  ): boolean {
    // A sleeping laptop notices the dead connection before queueing, not after.
    this.#watchdog.check();
    if (this.#ended) throw new ProbeError('client-closed', 'the client is closed');
    const delivery = this.#delivery;
    const frame = encodeMessage(volatile ? 0 : delivery.nextSeq, data, event, call, reply);
    const { length } = frame;
    if (length > this.#maxSendBytes) {
      throw new ProbeError(
        'too-large',
        `message of ${length} bytes exceeds the server's limit of ${this.#maxSendBytes}`,
      );
    }
    if (volatile) {
      if (!this.#welcomed) return false;
      this.#write(frame);
      return true;
    }
    if (delivery.wouldOverflow(length)) {
      const { size, bytes } = delivery.outbound;
      throw new ProbeError(
        'queue-full',
        `send queue is full (${size} messages, ${bytes} bytes unacknowledged)`,
      );
    }
    const belowHighWater = delivery.push(frame);
    if (this.#welcomed) {
      this.#write(frame);
      this.#writtenSeq = delivery.outbound.lastSeq;
    }
    return belowHighWater;
  }

  /** Unacknowledged messages and bytes (sent or queued). */
  get buffered(): { messages: number; bytes: number } {
    const { size, bytes } = this.#delivery.outbound;
    return { messages: size, bytes };
  }

  /**
   * Ends the session on the server at once (when connected; otherwise it expires there) and
   * stops reconnecting. Messages already written reach the server before the goodbye; `'close'`
   * reports what was not acknowledged.
   * @param code sent to the server and reported in `'close'`: 1000 or 3000–4999.
   * @param reason at most 123 UTF-8 bytes.
   * @throws {ProbeError} `invalid-argument` for another code or a longer reason.
   */
  close(code: number = CloseCode.NORMAL, reason = 'client closed'): void {
    // What a WebSocket close frame allows; the reason also fits a GOODBYE.
    if (
      (code !== CloseCode.NORMAL && !(code >= 3000 && code < 5000)) ||
      code % 1 ||
      clampReason(reason) !== reason
    ) {
      throw new ProbeError(
        'invalid-argument',
        `close(${code}, reason): code 1000 or 3000–4999, reason ≤ 123 UTF-8 bytes`,
      );
    }
    if (this.#ended) return;
    if (this.#welcomed) this.#write(encodeGoodbye(code, reason));
    this.#finish(code, reason);
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
    if (generation !== this.#generation) return;
    this.#goodbye = null;
    try {
      this.#socket = openSocket(WebSocket, this.url, {
        open: () => {
          // Built now, so messages queued while connecting count in sentSeq.
          const { sessionId, token } = this;
          const { inbound, outbound } = this.#delivery;
          const resume =
            sessionId && token
              ? { sessionId, token, lastSeq: inbound.lastSeq, sentSeq: outbound.lastSeq }
              : null;
          this.#write(encodeHello(PROTOCOL_VERSION, credentials, resume));
        },
        data: (data) => this.#receive(data),
        close: (code, reason) => {
          const goodbye = this.#goodbye ?? { code, reason };
          this.#drop(goodbye.code, goodbye.reason);
        },
      });
    } catch (error) {
      this.#report(error);
      this.#finish(CloseCode.ABNORMAL, `cannot open ${this.url}: ${String(error)}`);
      return;
    }
    this.#watchdog.start(this.#options.reconnect.connectTimeoutMs);
  }

  #receive(data: WireData): void {
    try {
      const frame = decodeFromServer(data, this.#options.maxPayloadBytes);
      // Before the welcome the connect deadline stands, whatever else arrives.
      if (this.#welcomed) this.#watchdog.heard();
      this.#dispatch(frame);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // A sequence gap (4004) is healed by the resume that follows; anything else stops.
      if (error.code !== 'sequence-gap') this.#report(error);
      this.#drop(error.closeCode, error.message, true);
    }
  }

  #dispatch(frame: ServerFrame): void {
    const delivery = this.#delivery;
    const welcomed = this.#welcomed;
    if (frame.type === FrameType.GOODBYE) {
      // The server's last frame: act on its code now rather than wait for a close that a
      // broken or hostile server may never send.
      this.#goodbye = frame;
      this.#drop(frame.code, frame.reason, true);
    } else if ((frame.type === FrameType.WELCOME) === welcomed) {
      // A second welcome, or anything else before the first.
      throw new ProtocolError(
        'unexpected-frame',
        `frame type ${frame.type} arrived ${welcomed ? 'after' : 'before'} the welcome`,
      );
    } else if (frame.type === FrameType.WELCOME) {
      this.#onWelcome(frame);
    } else if (frame.type === FrameType.PROBE) {
      // Answered before anything else runs, carrying any ack that is due.
      this.#write(encodeProbeAnswer(frame.id, delivery.inbound.takeAck()));
    } else if (frame.type === FrameType.ACK) {
      if (delivery.acknowledge(frame.seq)) this.#emit('drain');
    } else if (frame.seq === 0) {
      // Volatile: outside the sequence, never acknowledged or replayed.
      this.#deliver(frame);
    } else if (delivery.receive(frame.seq)) {
      if (delivery.inbound.ackDue) this.#flushAck();
      else this.#ackTimer ??= setTimeout(() => this.#flushAck(), this.#options.ackDelayMs);
      this.#deliver(frame);
    }
  }

  /** Hands a message to the application: a reply, a request, a named event or plain data. */
  #deliver(frame: MessageFrame): void {
    const { call, event = null, data } = frame;
    // Plain data is 'message'; a named event goes to the listeners of its name.
    if (call == null) this.#guarded(event ?? 'message', [data]);
    else if (frame.reply != null) this.#calls.replied(call, frame.reply, data);
    else this.#calls.answer(event, call, data);
  }

  #onWelcome(welcome: WelcomeFrame): void {
    const delivery = this.#delivery;
    const { sessionId, lastSeq, sentSeq } = welcome;
    const resumed = welcome.resumed && sessionId === this.sessionId;
    if (!resumed && this.sessionId !== null) this.#loseSession(CloseCode.SESSION_UNKNOWN);
    const replayedFromServer = sentSeq - delivery.inbound.lastSeq;
    // Messages only queued were never written to any connection: no server has them.
    if (lastSeq > (resumed ? this.#writtenSeq : 0)) {
      throw new ProtocolError('bad-sequence', `welcome acknowledges ${lastSeq}, never written`);
    }
    // Throws when the server claims messages never sent or forgets some already delivered.
    const replay = delivery.resume(lastSeq, sentSeq);
    this.sessionId = sessionId;
    this.token = welcome.token;
    this.#maxSendBytes = welcome.maxPayloadBytes;
    this.#welcomed = true;
    this.#retry.welcomed(resumed);
    this.#watchdog.start(
      welcome.probeIntervalMs + welcome.probeTimeoutMs + this.#options.watchdogSlackMs,
    );
    for (const frame of replay) this.#write(frame);
    this.#writtenSeq = delivery.outbound.lastSeq;
    this.#setState('open');
    this.#emit('open', { sessionId, resumed });
    if (resumed) {
      this.#emit('resume', { sessionId, replayedToServer: replay.length, replayedFromServer });
    }
    if (delivery.settle()) this.#emit('drain');
  }

  #flushAck(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    const ack = this.#welcomed && this.#delivery.inbound.takeAck();
    if (typeof ack === 'number') this.#write(encodeAck(ack));
  }

  #write(frame: Uint8Array): void {
    if (this.#socket) writeFrame(this.#socket, frame);
  }

  /**
   * Abandons the current socket and goes on as after a close with `code`. Without `handshake`
   * the socket is dropped at once (a close handshake would hang on a dead path).
   */
  #drop(code: number, reason: string, handshake = false): void {
    if (!this.#socket) return;
    this.#release(handshake ? code : undefined, reason);
    this.#disconnected(code, reason);
  }

  /** Detaches and closes the current socket, if any, and stops its timers. */
  #release(code?: number, reason?: string): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#welcomed = false;
    this.#watchdog.stop();
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (socket) releaseSocket(socket, code, reason);
  }

  #disconnected(code: number, reason: string): void {
    if (this.state === 'closed') return;
    const generation = this.#generation;
    if (endsSession(code)) this.#loseSession(code);
    // Its handler may have closed or suspended the client.
    if (generation !== this.#generation) return;
    const next = isRetryableClose(code) ? this.#retry.next(code) : '';
    if (typeof next === 'string') {
      this.#finish(code, next ? `${next}: ${reason}` : reason);
    } else {
      // Scheduled first, so a handler below that closes or suspends the client cancels it.
      this.#scheduleRetry(next);
      // 'connecting' stays until a first session opened.
      if (this.state === 'open') this.#setState('reconnecting');
      this.#emit('disconnect', { code, reason, attempt: this.#retry.attempt, delayMs: next });
    }
  }

  #scheduleRetry(delayMs: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Forgets the session (id, token, both directions); returns what was never acknowledged. */
  #forget(): Unconfirmed<Out> {
    const unsent = this.#delivery.outbound.lastSeq - this.#writtenSeq;
    this.sessionId = this.token = null;
    this.#writtenSeq = 0;
    return sortUnconfirmed<Out>(this.#delivery.reset(), unsent);
  }

  #loseSession(code: number): void {
    const { sessionId } = this;
    // Whoever waits for 'drain' gets it: the queue is empty now.
    const drained = this.#delivery.aboveHighWater;
    const { unconfirmed, unconfirmedEvents } = this.#forget();
    const reason = closeCodeName(code).toLowerCase().replaceAll('_', '-') as SessionLostReason;
    this.#calls.rejectAll(new ProbeError('session-lost', `the session was lost (${reason})`));
    this.#emit('session-lost', { reason, code, sessionId, unconfirmed, unconfirmedEvents });
    if (drained) this.#emit('drain');
  }

  /** Stops connecting: no retry pending, no socket, no callback of an attempt under way. */
  #stop(code?: number, reason = 'client suspended'): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#generation++;
    this.#release(code ?? CloseCode.NORMAL, reason);
  }

  #finish(code: number, reason: string): void {
    this.#stop(code, reason);
    listen('removeEventListener', this.#onOnline, this.#onVisible);
    this.#ended = true;
    const unconfirmed = this.#forget();
    this.#calls.rejectAll(new ProbeError('client-closed', `the client closed: ${reason}`));
    this.#setState('closed');
    this.#emit('close', { code, reason, ...unconfirmed });
  }

  #setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.#emit('state', state);
  }

  /**
   * Every event reaches the application through here: a handler that throws is reported to
   * `'error'` and cannot break the client's own bookkeeping. Like Node's EventEmitter, it
   * skips the remaining handlers of that one event.
   */
  #emit<E extends EventEmitter.EventNames<ClientEvents<In, Out>>>(
    event: E,
    ...args: EventEmitter.EventArgs<ClientEvents<In, Out>, E>
  ): void {
    this.#guarded(event, args);
  }

  #guarded(event: string | symbol, args: readonly unknown[]): void {
    try {
      emitOwn.call(this, event, ...args);
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    try {
      if (emitOwn.call(this, 'error', error)) return;
    } catch (thrown) {
      // Logged, not reported again: an 'error' handler that throws would loop.
      error = thrown;
    }
    console.error('[probe] client error:', error);
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
