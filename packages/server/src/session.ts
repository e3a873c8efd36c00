import {
  Calls,
  checkEventName,
  type EventArgs,
  type EventMap,
  encodePayload,
  type Listeners,
  type MessageFrame,
  type NameOf,
  type NoSchema,
  ProbeError,
  type ProbeSchema,
  type RequestOptions,
  type RequestPayload,
  type RequestReply,
} from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import type { CloseReason, MessageInfo, ResumeInfo, SuspendReason } from './events.js';
import { type ErrorSink, emitGuarded } from './guard.js';
import type { SessionCore } from './session-core.js';

export type SessionState = 'open' | 'suspended' | 'closed';

export interface SessionEvents<In> {
  /** A message from the client: exactly once, in order, across reconnects. */
  message: [data: In, info: MessageInfo];
  /** The connection was lost; the session waits `sessionTtlMs` for the client to resume. */
  suspend: [reason: SuspendReason];
  /** The client came back; buffered messages were replayed. */
  resume: [info: ResumeInfo];
  /** The replay buffer fell back below `highWaterMarkBytes` after `send()` returned false. */
  drain: [];
  /**
   * The session ended for good, or (shared store: `'moved'`, `'store-unavailable'`) left this
   * node and lives on elsewhere.
   */
  close: [reason: CloseReason];
}

/** Every event a session emits: its own, and the client's named events. */
type AllEvents<In, S extends ProbeSchema> = SessionEvents<In> &
  EventArgs<S['clientEvents'], SessionEvents<In>, [info: MessageInfo]>;

/** Options of a send: `volatile` messages go only over an open connection (see `send`). */
export interface SendOptions {
  volatile?: boolean;
}

/** Answers one of the client's requests; what it returns (or resolves with) is the reply. */
export type SessionRequestHandler<Ses, P = never, R = unknown> = (
  payload: P,
  session: Ses,
  /** As with `'message'`: `redelivered` says another node may have run it already. */
  info: MessageInfo,
) => R | Promise<R>;

// The base class with `emit` left out: a session's `emit` sends a named event to its client
// (as Socket.IO's does); its own events go through emitGuarded.
const Emitter = EventEmitter as unknown as new <E extends EventMap<E>>() => Listeners<E>;

// The server's own ways into a session, set by the class's static block (they reach its
// #private members; no per-session object or map entry is needed for them).
let deliver: (session: Session, frame: MessageFrame, info: MessageInfo) => void;
let closed: (session: Session) => void;
let coreOfSession: (session: Session) => SessionCore | undefined;

/** Hands a client message to the session's application (the server's own modules only). */
export function deliverTo(session: Session, frame: MessageFrame, info: MessageInfo): void {
  deliver(session, frame, info);
}

/** Emits one of a session's own events to its listeners, guarded (see emitGuarded). */
export function emitSessionEvent<E extends keyof SessionEvents<unknown>>(
  session: Session,
  report: ErrorSink,
  event: E,
  ...args: SessionEvents<unknown>[E]
): void {
  const emitter = session as unknown as EventEmitter<SessionEvents<unknown>>;
  emitGuarded(emitter, report, event, ...(args as never));
}

/** Rejects the session's pending requests: it ended or left this node. */
export function closedSession(session: Session): void {
  closed(session);
}

/** What the façade asks of the server for rooms. */
export interface RoomHost {
  join(core: SessionCore, room: string): Promise<void>;
  leave(core: SessionCore, room: string): void;
}

declare const opaque: unique symbol;
/** What the server hands a new {@link Session}; applications never build one. */
export type SessionInit = { readonly [opaque]: true };

interface Init {
  core: SessionCore;
  rooms: RoomHost;
  report: ErrorSink;
  address: string | undefined;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Builds the public façade of a session core (the server's own modules only). */
export function createSession(init: Init): Session {
  return new Session(init as unknown as SessionInit);
}

/** The core behind a session (for the server's own modules; not part of the public API). */
export function coreOf(session: Session): SessionCore | undefined {
  return coreOfSession(session);
}

/**
 * One client's session: it outlives connections. While `suspended` it buffers what it is sent
 * and can be resumed with its secret token; it ends on `close()`, on the client's close, on
 * buffer overflow or when its TTL passes.
 *
 * @typeParam Data what `authenticate` returned for this client.
 * @typeParam In messages the client sends; @typeParam Out messages the server sends.
 * @typeParam S named events and requests of both sides (see `DefineSchema`).
 */
export class Session<
  Data = unknown,
  In = unknown,
  Out = unknown,
  S extends ProbeSchema = NoSchema,
> extends Emitter<AllEvents<In, S>> {
  readonly #core: SessionCore;
  readonly #rooms: RoomHost;
  readonly #report: ErrorSink;
  /** Requests either way; made on first use, so a session that never asks costs nothing. */
  #calls: Calls<[Session<Data, In, Out, S>, MessageInfo]> | null = null;
  /** The client's address when the session opened on this node. */
  readonly remoteAddress: string | undefined;
  /** Request headers the server's `keepHeaders` option chose to keep. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(init: SessionInit) {
    super();
    const { core, rooms, address, headers, report } = init as unknown as Init;
    this.#core = core;
    this.#rooms = rooms;
    this.#report = report;
    this.remoteAddress = address;
    this.headers = headers;
  }

  static {
    deliver = (session, frame, info) => session.#deliver(frame, info);
    closed = (session) =>
      session.#calls?.rejectAll(
        new ProbeError('session-closed', `session ${session.id} is closed`),
      );
    coreOfSession = (session) => (#core in session ? session.#core : undefined);
  }

  #callsOf(): Calls<[Session<Data, In, Out, S>, MessageInfo]> {
    if (this.#calls !== null) return this.#calls;
    const core = this.#core;
    this.#calls = new Calls(
      {
        request: (data, event) => {
          this.#assertOpen();
          const seq = core.delivery.nextSeq;
          core.send(data, event, seq, null);
          return seq;
        },
        reply: (data, call, kind) => {
          this.#assertOpen();
          core.send(data, null, call, kind);
        },
        report: this.#report,
      },
      core.host.options.requestTimeoutMs,
    );
    return this.#calls;
  }

  /** Unguessable id. */
  get id(): string {
    return this.#core.id;
  }

  /** What `authenticate` resolved with. */
  get data(): Data {
    return this.#core.record.data as Data;
  }

  get state(): SessionState {
    return this.#core.state;
  }

  /** Smoothed probe round-trip time in ms (null before the first answer). */
  get rttMs(): number | null {
    return this.#core.rttMs;
  }

  /** Rooms this session has joined. */
  get rooms(): ReadonlySet<string> {
    return new Set(this.#core.record.rooms);
  }

  /** Unacknowledged server→client messages and bytes. */
  get buffered(): { messages: number; bytes: number } {
    const { outbound } = this.#core.delivery;
    return { messages: outbound.size, bytes: outbound.bytes };
  }

  /**
   * Sends a message: delivered exactly once and in order, even across reconnects. While the
   * session is suspended it is buffered and replayed on resume. With a shared store it reaches
   * the client once stored; {@link durable} tells when.
   *
   * With `{ volatile: true }` it is sent at most once, only if the client is connected now:
   * not buffered, not stored, not replayed, not counted against the buffer limits.
   * @returns false when unacknowledged data passed `highWaterMarkBytes`: wait for `'drain'`.
   * Volatile: false when it was dropped (not connected).
   * @throws {ProbeError} `session-closed` after the session ended or left this node.
   */
  send(data: Out, options?: SendOptions): boolean {
    return this.#send(data, null, options);
  }

  /**
   * Sends the named event `event` to the client, whose `on(event)` listeners get `payload`:
   * exactly once and in order with every other message, or volatile as `send()`.
   * @throws {ProbeError} as `send()`, and `invalid-argument` for a name Probe reserves.
   */
  emit<K extends NameOf<S['serverEvents']>>(
    event: K,
    payload: S['serverEvents'][K],
    options?: SendOptions,
  ): boolean {
    return this.#send(payload, checkEventName(event), options);
  }

  /**
   * Sends `data` as a request to the client and resolves with what its handler answered
   * (`client.handle(handler)`); exactly once across reconnects, as `send()`.
   * @param options.timeoutMs rejects with a `ProbeError` `timeout` (default 30 s).
   * @returns rejects also with a `RequestError` (the handler failed), a `ProbeError`
   * `session-closed` when the session ended or left this node first (a reply reaching another
   * node is dropped there), or as `send()` throws.
   */
  request(data: Out, options?: RequestOptions): Promise<unknown> {
    return this.#callsOf().request(null, data, options);
  }

  /** As {@link request}, for the named request `event` (answered by `client.handle(event, …)`). */
  emitWithAck<K extends NameOf<S['serverRequests']>>(
    event: K,
    payload: RequestPayload<S['serverRequests'], K>,
    options?: RequestOptions,
  ): Promise<RequestReply<S['serverRequests'], K>> {
    return this.#callsOf().request(checkEventName(event), payload, options) as Promise<
      RequestReply<S['serverRequests'], K>
    >;
  }

  /**
   * Answers the client's named requests `event` (`client.emitWithAck(event, …)`), or with no
   * name its unnamed ones (`client.request(…)`): the handler's result (or what its promise
   * resolves with) is the reply. A thrown `RequestError` fails the request with its code and
   * message; anything else fails it as `handler-failed` (its text is not sent) and is reported
   * to the server's `'error'`. A request is delivered once, so its handler runs once. One
   * handler per name; `null` removes it. Register in the server's `'session'` listener (also
   * called when a session moves here from another node).
   */
  handle<K extends NameOf<S['clientRequests']>>(
    event: K,
    handler: SessionRequestHandler<
      this,
      RequestPayload<S['clientRequests'], K>,
      RequestReply<S['clientRequests'], K>
    > | null,
  ): this;
  handle(handler: SessionRequestHandler<this, In> | null): this;
  handle(
    event: string | SessionRequestHandler<this> | null,
    handler?: SessionRequestHandler<this> | null,
  ): this {
    const calls = this.#callsOf() as unknown as Calls<[this, MessageInfo]>;
    if (typeof event === 'string') calls.handle(checkEventName(event), handler ?? null);
    else calls.handle(null, event);
    return this;
  }

  #send(data: unknown, event: string | null, options?: SendOptions): boolean {
    this.#assertOpen();
    if (options?.volatile) return this.#core.sendVolatile(encodePayload(data, event));
    return this.#core.send(data, event);
  }

  #deliver(frame: MessageFrame, info: MessageInfo): void {
    const { call, event = null, data } = frame;
    if (call == null) {
      // Its own events and the client's named events, through EventEmitter's own emit.
      const emitter = this as unknown as EventEmitter;
      emitGuarded(emitter, this.#report, event ?? 'message', data, info);
    } else if (frame.reply != null) this.#calls?.replied(call, frame.reply, data);
    else this.#callsOf().answer(event, call, data, this, info);
  }

  /**
   * Resolves once every message sent so far is stored, so that no node crash can lose it
   * (at once without a shared store, where a crash loses the session anyway). Rejects when
   * the session left this node first: those messages may not have been stored.
   */
  durable(): Promise<void> {
    return this.#core.durable();
  }

  /**
   * Joins `room` for `server.broadcast(data, { room })`. Membership is part of the session:
   * with a shared store it moves with the session to any node. Resolves once the membership
   * is in effect (at once without a shared store); messages broadcast after that reach it.
   * Rejects when the shared store could not record it (the session is then not a member).
   */
  join(room: string): Promise<void> {
    this.#assertOpen();
    return this.#rooms.join(this.#core, room);
  }

  leave(room: string): void {
    this.#rooms.leave(this.#core, room);
  }

  /** Ends the session: the client is told (close code 4500) and will not resume it. */
  close(): void {
    this.#core.end('server-closed');
  }

  #assertOpen(): void {
    if (this.#core.state === 'closed') {
      throw new ProbeError('session-closed', `session ${this.id} is closed`);
    }
  }
}
