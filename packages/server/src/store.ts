/**
 * The seam between the server and a store that several server nodes share (`@probe/redis`).
 * Without one, sessions live in this process only and the replay buffers in memory are the
 * truth. With one, the store is the truth and this node serves the sessions it owns: see
 * docs/scale-out.md for the rules every implementation keeps.
 */

/** What a session is, as data: everything another node needs to take it over. */
export interface SessionRecord {
  readonly id: string;
  /** What `authenticate` resolved with; plain data (it is stored as MessagePack). */
  data: unknown;
  /** SHA-256 digest of the resume token the client is known to hold. */
  tokenHash: string | null;
  /** Digest of the token the last welcome carried, until the client shows it has it. */
  pendingTokenHash: string | null;
  /** Highest client→server sequence number stored as delivered to the application. */
  inSeq: number;
  /** Highest server→client sequence number stored. */
  outSeq: number;
  /** Highest server→client sequence number the client acknowledged. */
  ackedSeq: number;
  /** Rooms the session has joined. */
  rooms: string[];
  /**
   * Shared store: per joined room, the id of the last room entry numbered into this session's
   * own sequence. A node that takes the session over continues from there, so a member gets
   * every room message once even when its node died while the message was published.
   */
  roomCursors: Record<string, string>;
  /** Node that serves the session. */
  owner: string;
  /** Incremented on every change of owner; writes carry it, so a stale owner is fenced. */
  epoch: number;
  /**
   * Incremented by every write of the owner. A node taking the session over claims it only if
   * nothing was written since it loaded it, so it never continues from a stale copy.
   */
  version: number;
  /**
   * True while the owner may have handed client messages past `inSeq` to the application
   * (it serves a connection). A node that takes over a held session from a node that did not
   * let go marks what the client replays up to its `sentSeq` as possibly redelivered.
   */
  held: boolean;
  /**
   * Client messages up to this sequence number may already have reached the application on a
   * node that was taken over without letting go: whoever delivers them marks them
   * `redelivered`. Kept in the record, so the mark survives further moves.
   */
  redeliverUpTo: number;
  /** Milliseconds since the epoch when the session was created. */
  createdAt: number;
}

/** A session loaded for resume: its record and its unacknowledged server→client frames. */
export interface LoadedSession {
  record: SessionRecord;
  /** Frames `ackedSeq + 1` … `outSeq`, oldest first, byte for byte as first sent. */
  frames: Uint8Array[];
}

/** A session that ended recently, with the close code it ended with. */
export interface EndedSession {
  endedWith: number;
}

/** Fields a node changes on a session it owns. */
export type SessionChanges = Partial<
  Pick<
    SessionRecord,
    'inSeq' | 'ackedSeq' | 'tokenHash' | 'pendingTokenHash' | 'rooms' | 'roomCursors' | 'held'
  >
>;

/** One message of a room's stream. */
export interface RoomEntry {
  /** Stream id: entries of one room are totally ordered by it. */
  readonly id: string;
  /** The message data, MessagePack-encoded once for every member. */
  readonly payload: Uint8Array;
  /** Id of a session that must not receive it, or null. */
  readonly except: string | null;
}

/** What a node hears of the rooms it watches. */
export interface RoomListener {
  /** New entries of `room`, oldest first. */
  entries(room: string, entries: readonly RoomEntry[]): void;
  /** A volatile message: not stored, delivered at most once to members connected now. */
  volatile(room: string, payload: Uint8Array, except: string | null): void;
}

/** Entries read from a room's stream; `trimmed` when some after `afterId` are gone. */
export interface RoomRead {
  entries: RoomEntry[];
  trimmed: boolean;
}

/** The node a store serves: how another node's request to let go of a session reaches it. */
export interface StoreNode {
  readonly id: string;
  /**
   * Another node is taking a session over: stop serving it, store what was delivered and
   * clear `held`, then resolve. Resolves at once when this node does not serve it.
   */
  release(sessionId: string): Promise<void>;
}

/** Why a store operation failed; `fenced` means another node owns the session now. */
export type StoreErrorCode = 'fenced' | 'unavailable' | 'overflow';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A store shared by several server nodes. Every write that names an `epoch` is fenced: it
 * fails with `StoreError('fenced')` unless the session still has that epoch, so a node that
 * lost a session (frozen, partitioned) cannot write for it. Operations fail with
 * `StoreError('unavailable')` rather than hang when the store cannot be reached.
 */
export interface SessionStore {
  /** Starts serving `node` (liveness, release requests). */
  open(node: StoreNode, options: { sessionTtlMs: number }): Promise<void>;
  /** Stops serving the node; sessions stay in the store. */
  detach(): Promise<void>;
  /**
   * This node's lease: a number while it is certainly current, null when it may have lapsed.
   * Another node takes a session over from a node that does not answer only once that node's
   * lease expired, so a node whose lease lapsed (its process was frozen) must check ownership
   * before handing a client message to the application. The number changes whenever the
   * lease is taken up again after a lapse: what was checked under an older number is
   * checked again.
   */
  lease(): number | null;
  /** True when session `id` still has `epoch` (this node still owns it). */
  verify(id: string, epoch: number): Promise<boolean>;
  /** Stores a new session. */
  create(record: SessionRecord): Promise<void>;
  /** The session with its unacknowledged frames, how it ended, or null when unknown. */
  load(id: string): Promise<LoadedSession | EndedSession | null>;
  /**
   * Asks the owner of `record` to let go of it (see {@link StoreNode.release}).
   * @returns true when the session may be taken over: the owner let go, or it is gone (no
   * answer within `timeoutMs`, and its lease expired). False when the owner still holds a
   * current lease but did not answer: it may still hand client messages to its application,
   * so taking over now could deliver one twice unmarked.
   */
  release(record: SessionRecord, timeoutMs: number): Promise<boolean>;
  /**
   * Makes `owner` the owner if the session still has the expected epoch (and, unless null,
   * version), in one atomic step, counting the resume against `maxPerMinute` for the session
   * across all nodes.
   * @returns the new epoch; `'conflict'` when the session changed meanwhile;
   * `'too-many'` when the session was resumed `maxPerMinute` times in the last minute.
   */
  claim(
    id: string,
    expected: { epoch: number; version: number | null },
    owner: string,
    tokens: { tokenHash: string | null; pendingTokenHash: string | null; redeliverUpTo: number },
    maxPerMinute: number,
  ): Promise<number | 'conflict' | 'too-many'>;
  /**
   * Stores the server→client frame `seq` (fenced); the frame may go to the socket after. With
   * `cursor`, the frame is room entry `cursor.entryId` and the session's cursor of that room
   * moves to it in the same atomic step.
   */
  append(
    id: string,
    epoch: number,
    seq: number,
    frame: Uint8Array,
    cursor?: { room: string; entryId: string },
  ): Promise<void>;
  /** Stores changes of a session (fenced). */
  sync(id: string, epoch: number, changes: SessionChanges): Promise<void>;
  /** Deletes the session and remembers for a while that it ended with `closeCode` (fenced). */
  end(id: string, epoch: number, closeCode: number): Promise<void>;
  /** Appends a message to `room`'s stream (bounded); resolves with its entry id. */
  publish(room: string, payload: Uint8Array, except: string | null): Promise<string>;
  /** Sends a volatile message to the nodes watching `room`; nothing is stored. */
  publishVolatile(room: string, payload: Uint8Array, except: string | null): Promise<void>;
  /** Id of the newest entry of `room` ('0-0' when it has none): where a new member starts. */
  roomHead(room: string): Promise<string>;
  /** Up to `count` entries of `room` after `afterId`, oldest first. */
  readRoom(room: string, afterId: string, count: number): Promise<RoomRead>;
  /** Where new entries and volatile messages of watched rooms are reported. */
  listen(listener: RoomListener): void;
  /**
   * Starts reading `room` after entry `afterId` (this node serves a member of it), or stops
   * (it no longer does).
   */
  watch(room: string, afterId: string): void;
  unwatch(room: string): void;
}

/** Orders two stream ids (`<ms>-<seq>`). */
export function compareEntryIds(a: string, b: string): number {
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}
