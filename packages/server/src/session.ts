import { ProbeError } from '@probe/protocol';
import { EventEmitter } from 'eventemitter3';
import type { CloseReason, MessageInfo, ResumeInfo, SuspendReason } from './events.js';
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

/** What the façade asks of the server for rooms. */
export interface RoomHost {
  join(core: SessionCore, room: string): Promise<void>;
  leave(core: SessionCore, room: string): void;
}

const cores = new WeakMap<Session, SessionCore>();

declare const opaque: unique symbol;
/** What the server hands a new {@link Session}; applications never build one. */
export type SessionInit = { readonly [opaque]: true };

interface Init {
  core: SessionCore;
  rooms: RoomHost;
  address: string | undefined;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Builds the public façade of a session core (the server's own modules only). */
export function createSession(init: Init): Session {
  return new Session(init as unknown as SessionInit);
}

/** The core behind a session (for the server's own modules; not part of the public API). */
export function coreOf(session: Session): SessionCore | undefined {
  return cores.get(session);
}

/**
 * One client's session: it outlives connections. While `suspended` it buffers what it is sent
 * and can be resumed with its secret token; it ends on `close()`, on the client's close, on
 * buffer overflow or when its TTL passes.
 *
 * @typeParam Data what `authenticate` returned for this client.
 * @typeParam In messages the client sends; @typeParam Out messages the server sends.
 */
export class Session<Data = unknown, In = unknown, Out = unknown> extends EventEmitter<
  SessionEvents<In>
> {
  readonly #core: SessionCore;
  readonly #rooms: RoomHost;
  /** The client's address when the session opened on this node. */
  readonly remoteAddress: string | undefined;
  /** Request headers the server's `keepHeaders` option chose to keep. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(init: SessionInit) {
    super();
    const { core, rooms, address, headers } = init as unknown as Init;
    this.#core = core;
    this.#rooms = rooms;
    this.remoteAddress = address;
    this.headers = headers;
    cores.set(this, core);
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
   * @returns false when unacknowledged data passed `highWaterMarkBytes`: wait for `'drain'`.
   * @throws {ProbeError} `session-closed` after the session ended or left this node.
   */
  send(data: Out): boolean {
    this.#assertOpen();
    return this.#core.send(data);
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
