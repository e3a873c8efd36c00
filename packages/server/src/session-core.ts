import {
  CloseCode,
  Delivery,
  type EncodedPayload,
  encodeAck,
  encodeMessage,
  encodeMessageWithPayload,
  isRetryableClose,
  type MessageFrame,
  type ReplyKind,
  WindowCounter,
} from '@probe/protocol';
import type { AckBatcher } from './ack-batcher.js';
import type { Connection, ConnectionPeer } from './connection.js';
import type { CloseReason, SuspendReason } from './events.js';
import type { ResolvedServerOptions } from './options.js';
import type { Timed, TimerWheel } from './scheduler.js';
import type { Session } from './session.js';
import { type RoomEntry, type SessionRecord, type SessionStore, StoreError } from './store.js';

/** What a session core needs from the node that serves it. */
export interface CoreHost {
  readonly options: ResolvedServerOptions<unknown>;
  readonly wheel: TimerWheel;
  readonly acks: AckBatcher;
  readonly now: () => number;
  /** The shared store, or null when sessions live in this process only. */
  readonly store: SessionStore | null;
  /** The session ended for good, or left this node (`moved`, `store-unavailable`). */
  left(core: SessionCore, reason: CloseReason): void;
  /** A log entry about the session's connection, for `'connection-error'`. */
  connectionError(connection: Connection, code: string, closeCode: number, message: string): void;
  reportError(error: unknown): void;
}

/** How the core talks to the application: the public {@link Session} façade. */
/** Where a core reports what happens to it: one object for every core of a node. */
export interface CoreEvents {
  /** A MESSAGE from the client (plain, a named event, a request or a reply). */
  message(core: SessionCore, frame: MessageFrame, redelivered: boolean): void;
  suspend(core: SessionCore, reason: SuspendReason): void;
  drain(core: SessionCore): void;
  close(core: SessionCore, reason: CloseReason): void;
}

export type CoreState = 'open' | 'suspended' | 'closed';

/** The close code that tells the client why its session ended (or left this node). */
export const CLOSE_CODES: Record<CloseReason, number> = {
  'client-closed': CloseCode.NORMAL,
  'server-closed': CloseCode.SESSION_CLOSED,
  expired: CloseCode.SESSION_EXPIRED,
  'buffer-overflow': CloseCode.BUFFER_OVERFLOW,
  'protocol-error': CloseCode.PROTOCOL_ERROR,
  'server-shutdown': CloseCode.SERVER_SHUTDOWN,
  revoked: CloseCode.UNAUTHORIZED,
  moved: CloseCode.SESSION_TAKEN_OVER,
  'store-unavailable': CloseCode.TRY_AGAIN_LATER,
};

/** A peer that needs more resyncs than this per minute is cut off. */
const MAX_RESYNCS_PER_MINUTE = 10;

/**
 * One session as this node serves it: the record (what the session is, as data), the shared
 * exactly-once {@link Delivery}, and the link to the connection that carries it now.
 *
 * Without a store the replay buffer here is the truth and frames go to the socket at once.
 * With a shared store two gates apply: a server→client frame goes to the socket only once the
 * store has it (so any node can replay whatever the client saw), and an ack goes to the client
 * only once the store has the new inbound position (so nothing acknowledged can be lost).
 */
export class SessionCore implements ConnectionPeer, Timed {
  wheelAt = 0;
  wheelSlot = -1;
  state: CoreState = 'open';
  connection: Connection | null = null;
  rttMs: number | null = null;
  /** The application's view of this session (set by the registry right after it is built). */
  facade!: Session;
  readonly delivery: Delivery;
  /** Client messages up to this sequence number may have reached the application elsewhere. */
  redeliverUpTo = 0;
  /** Resumes and resyncs per minute, made on first use: most sessions have neither. */
  #resumes: WindowCounter | null = null;
  #resyncs: WindowCounter | null = null;
  /** Shared store: highest outbound sequence number stored (and so writable to the socket). */
  private storedSeq = 0;
  /** Shared store: highest inbound position acknowledged to the client on this connection. */
  private ackSent = 0;
  private syncing = false;
  /**
   * Shared store: highest client message handed to the application. Only this is stored as
   * delivered (and so acknowledged): a message held back for an ownership check is not.
   */
  private emittedSeq = 0;
  /** Shared store: client messages waiting for an ownership check, in order. */
  private waiting: MessageFrame[] = [];
  /** Shared store: the session is being handed to another node (or this one shuts down). */
  private releasing = false;
  /** Shared store: the lease under which ownership was last known (set on claim or check). */
  checkedLease: number | null = null;
  /** Shared store: the client confirmed its new token; the next sync stores it. */
  private tokenConfirmed = false;
  private syncAgain = false;
  private durableWaiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    readonly record: SessionRecord,
    readonly host: CoreHost,
    readonly events: CoreEvents,
  ) {
    const { maxBufferedMessages, maxBufferedBytes, highWaterMarkBytes } = host.options;
    this.delivery = new Delivery({
      maxMessages: maxBufferedMessages,
      maxBytes: maxBufferedBytes,
      highWaterMarkBytes,
    });
  }

  get id(): string {
    return this.record.id;
  }

  /** Resumes allowed per minute: a resume can make the server replay megabytes. */
  get resumes(): WindowCounter {
    this.#resumes ??= new WindowCounter(this.host.options.maxResumesPerMinute, 60_000);
    return this.#resumes;
  }

  /** Restores the server→client frames a shared store holds, and both positions. */
  restore(frames: readonly Uint8Array[]): void {
    const { record } = this;
    this.delivery.outbound.restore(record.ackedSeq, frames);
    this.delivery.inbound.lastSeq = record.inSeq;
    this.emittedSeq = record.inSeq;
    this.storedSeq = record.outSeq;
  }

  send(
    data: unknown,
    event: string | null = null,
    call: number | null = null,
    reply: ReplyKind | null = null,
  ): boolean {
    return this.enqueue(encodeMessage(this.delivery.nextSeq, data, event, call, reply));
  }

  sendPayload(payload: EncodedPayload): boolean {
    if (this.state === 'closed') return false;
    return this.enqueue(encodeMessageWithPayload(this.delivery.nextSeq, payload));
  }

  /** A volatile message: to the open connection only, unnumbered, never stored or replayed. */
  sendVolatile(payload: EncodedPayload): boolean {
    if (this.state !== 'open' || this.connection === null) return false;
    this.connection.send(encodeMessageWithPayload(0, payload));
    return true;
  }

  /**
   * Shared store: numbers room entry `entry` into this session's own sequence, moving the
   * session's cursor of `room` to it in the same store step.
   */
  deliverRoom(room: string, entry: RoomEntry): void {
    if (this.state === 'closed' || !this.record.rooms.includes(room)) return;
    this.record.roomCursors[room] = entry.id;
    // The cursor passes an excepted entry too; it is stored with the next one delivered.
    if (entry.except === this.id) return;
    const payload = entry.payload as EncodedPayload;
    this.enqueue(encodeMessageWithPayload(this.delivery.nextSeq, payload), {
      room,
      entryId: entry.id,
    });
  }

  private enqueue(frame: Uint8Array, cursor?: { room: string; entryId: string }): boolean {
    const { delivery } = this;
    const seq = delivery.nextSeq;
    const belowHighWater = delivery.push(frame);
    if (delivery.overflowing) {
      const { size, bytes } = delivery.outbound;
      if (this.connection) {
        this.host.connectionError(
          this.connection,
          'buffer-overflow',
          CloseCode.BUFFER_OVERFLOW,
          `replay buffer passed its limit (${size} messages, ${bytes} bytes unacknowledged)`,
        );
      }
      this.end('buffer-overflow');
      return false;
    }
    const store = this.host.store;
    if (store === null) this.connection?.send(frame);
    else {
      store.append(this.id, this.record.epoch, seq, frame, cursor).then(
        () => this.stored(seq, frame),
        (error: unknown) => this.storeFailed(error),
      );
    }
    return belowHighWater;
  }

  /** Shared store: frame `seq` is stored; appends resolve in order, so writes stay in order. */
  private stored(seq: number, frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.storedSeq = seq;
    this.record.outSeq = seq;
    if (seq > this.delivery.outbound.lastSeq - this.delivery.outbound.size) {
      this.connection?.send(frame);
    }
    while (this.durableWaiters.length > 0 && this.durableWaiters[0]!.seq <= seq) {
      this.durableWaiters.shift()!.resolve();
    }
  }

  /** Resolves once every message sent so far is stored (at once without a shared store). */
  durable(): Promise<void> {
    const seq = this.delivery.outbound.lastSeq;
    if (this.host.store === null || seq <= this.storedSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.durableWaiters.push({ seq, resolve, reject }));
  }

  receive(frame: MessageFrame): void {
    // Letting go: not taken (nor acknowledged), so the client replays it to the next node.
    if (this.releasing) return;
    if (frame.seq === 0) {
      // Volatile: delivered as it comes, outside the sequence, never acknowledged.
      this.events.message(this, frame, false);
      return;
    }
    if (!this.delivery.receive(frame.seq)) return;
    const store = this.host.store;
    const lease = store?.lease();
    if (store && (this.waiting.length > 0 || lease === null || lease !== this.checkedLease)) {
      this.hold(store, frame);
      return;
    }
    this.emit(frame);
  }

  /**
   * Forgets client messages still waiting for an ownership check: they were neither handed to
   * the application nor acknowledged, so the position goes back and the client replays them
   * to whichever node serves the session next (this one included).
   */
  private dropWaiting(): void {
    if (this.waiting.length === 0) return;
    this.waiting = [];
    this.delivery.inbound.lastSeq = this.emittedSeq;
  }

  private emit(frame: MessageFrame): void {
    const { seq } = frame;
    this.emittedSeq = seq;
    if (this.delivery.inbound.ackDue) this.flushAck();
    else this.host.acks.add(this);
    this.events.message(this, frame, seq <= this.redeliverUpTo);
  }

  /**
   * Shared store: this node's lease lapsed (its event loop stood still, or the process was
   * frozen), so another node may own the session by now. Client messages wait until the
   * store confirms the epoch; if another node took over, they are never handed to the
   * application here (the client replays them to the new owner, which marks them).
   */
  private hold(store: SessionStore, frame: MessageFrame): void {
    this.waiting.push(frame);
    if (this.waiting.length > 1) return;
    const lease = store.lease();
    const batch = this.waiting;
    store.verify(this.id, this.record.epoch).then(
      (owned) => {
        // Dropped meanwhile (the connection went away): the client replays them.
        if (this.waiting !== batch) return;
        const waiting = this.waiting;
        this.waiting = [];
        if (!owned) {
          this.abandon();
          return;
        }
        // Owned under this lease: no more checks until the lease lapses again.
        if (lease !== null) this.checkedLease = lease;
        for (const waitingFrame of waiting) {
          if (this.state === 'closed') return;
          this.emit(waitingFrame);
        }
      },
      (error: unknown) => {
        if (this.waiting !== batch) return;
        this.dropWaiting();
        this.storeFailed(error);
      },
    );
  }

  acknowledge(seq: number): void {
    if (this.delivery.acknowledge(seq)) this.events.drain(this);
    if (this.host.store !== null) this.host.acks.add(this);
  }

  confirmToken(): void {
    const { record } = this;
    if (record.pendingTokenHash === null) return;
    record.tokenHash = record.pendingTokenHash;
    record.pendingTokenHash = null;
    this.tokenConfirmed = true;
    if (this.host.store !== null) this.host.acks.add(this);
  }

  goodbye(): void {
    this.end('client-closed');
  }

  probeAnswered(rttMs: number): void {
    this.rttMs = this.rttMs === null ? rttMs : this.rttMs * 0.875 + rttMs * 0.125;
  }

  /** Sends the ack that is due: at once without a store, after storing the position with one. */
  flushAck(): void {
    const store = this.host.store;
    if (store === null) {
      const ack = this.delivery.inbound.takeAck();
      if (ack !== null) this.connection?.send(encodeAck(ack));
      return;
    }
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const { record, delivery } = this;
    const inSeq = this.emittedSeq;
    const ackedSeq = delivery.outbound.lastSeq - delivery.outbound.size;
    const changes = {
      ...(inSeq !== record.inSeq && { inSeq }),
      ...(ackedSeq !== record.ackedSeq && { ackedSeq }),
      ...(this.tokenConfirmed && {
        tokenHash: record.tokenHash,
        pendingTokenHash: record.pendingTokenHash,
      }),
    };
    this.tokenConfirmed = false;
    if (Object.keys(changes).length === 0) {
      // Nothing new to store: the position is stored already, so the ack may go out.
      if (inSeq > this.ackSent && this.connection) {
        this.ackSent = inSeq;
        this.connection.send(encodeAck(inSeq));
      }
      return;
    }
    this.syncing = true;
    store.sync(this.id, record.epoch, changes).then(
      () => {
        this.syncing = false;
        record.inSeq = inSeq;
        record.ackedSeq = ackedSeq;
        if (inSeq > this.ackSent && this.connection) {
          this.ackSent = inSeq;
          this.connection.send(encodeAck(inSeq));
        }
        if (this.syncAgain) {
          this.syncAgain = false;
          this.flushAck();
        }
      },
      (error: unknown) => {
        this.syncing = false;
        this.storeFailed(error);
      },
    );
  }

  /** The welcome went out on `connection`: serve the session there and replay what is due. */
  attach(connection: Connection, peerReceived: number | null): number {
    this.host.wheel.cancel(this);
    this.connection = connection;
    this.state = 'open';
    this.ackSent = 0;
    if (peerReceived === null) return 0;
    // Taken now, not when the resume began: frames numbered meanwhile belong to the replay.
    const replay = this.delivery.outbound.since(peerReceived);
    // With a store, frames not stored yet go out when their append completes.
    let seq = peerReceived;
    let sent = 0;
    for (const frame of replay) {
      if (++seq > this.storedSeq && this.host.store !== null) break;
      connection.send(frame);
      sent++;
    }
    this.flushAck();
    return sent;
  }

  disconnected(
    connection: Connection,
    reason: SuspendReason,
    closeCode?: number,
  ): number | undefined {
    if (connection !== this.connection) return undefined;
    this.connection = null;
    const resync = closeCode === CloseCode.RESYNC;
    // A gap is healed by a resume, but a peer that keeps causing them is cut off.
    if (resync) this.#resyncs ??= new WindowCounter(MAX_RESYNCS_PER_MINUTE, 60_000);
    const final = resync
      ? !this.#resyncs!.hit(this.host.now())
      : closeCode !== undefined && !isRetryableClose(closeCode);
    if (final) this.end('protocol-error');
    else this.suspend(resync ? 'resync' : reason);
    // Only a gap past the bound changes the code: every other refusal keeps its own.
    return resync && final ? CloseCode.PROTOCOL_ERROR : closeCode;
  }

  /** The connection is gone; keep the session for `sessionTtlMs`. */
  suspend(reason: SuspendReason): void {
    if (this.state !== 'open') return;
    this.connection = null;
    this.dropWaiting();
    this.state = 'suspended';
    this.host.acks.delete(this);
    this.host.wheel.schedule(this, this.host.now() + this.host.options.sessionTtlMs);
    const store = this.host.store;
    if (store !== null) {
      // Whatever was delivered is stored now, so any node can take over without a doubt;
      // so is a token the client confirmed (the old one must not work anywhere any more).
      const inSeq = this.emittedSeq;
      const { tokenHash, pendingTokenHash } = this.record;
      const tokens = this.tokenConfirmed ? { tokenHash, pendingTokenHash } : {};
      this.tokenConfirmed = false;
      store.sync(this.id, this.record.epoch, { inSeq, held: false, ...tokens }).then(
        () => {
          this.record.inSeq = inSeq;
          this.record.held = false;
        },
        (error: unknown) => this.storeFailed(error),
      );
    }
    this.events.suspend(this, reason);
  }

  onWheelTimer(): void {
    if (this.state === 'suspended') this.end('expired');
  }

  /** Ends the session for good and tells the client why. */
  end(reason: CloseReason): void {
    if (this.state === 'closed') return;
    const code = CLOSE_CODES[reason];
    this.leave(reason, code, reason);
    this.host.store
      ?.end(this.id, this.record.epoch, code)
      .catch((error: unknown) => this.host.reportError(error));
  }

  /**
   * Another node takes the session over, or this one shuts down: stop serving it (closing its
   * connection with `code`), let pending appends finish, store what was delivered and let go
   * (`held` false), so whichever node the client reaches next resumes it exactly.
   */
  async release(code: number, message: string): Promise<void> {
    if (this.state === 'closed' || this.releasing) return;
    this.releasing = true;
    this.dropWaiting();
    const store = this.host.store;
    try {
      // Let go first, connection still open: the client's next connection, on any node, finds
      // the session let go and is welcomed at once (no round trip back to this node).
      await this.durable();
      await store?.sync(this.id, this.record.epoch, { inSeq: this.emittedSeq, held: false });
    } catch {
      // Fenced or unreachable: the new owner treats the session as not let go.
    }
    this.connection?.release(code, message);
    this.connection = null;
    this.leave('moved', null, 'session moved to another node');
  }

  /** The store moved past this node's epoch: stop serving the session here at once. */
  abandon(): void {
    this.leave('moved', CloseCode.SESSION_MOVED, 'session moved to another node');
  }

  /** A store write failed: this node can no longer vouch for the session. */
  private storeFailed(error: unknown): void {
    if (this.state === 'closed') return;
    if (error instanceof StoreError && error.code === 'fenced') {
      this.abandon();
    } else {
      this.host.reportError(error);
      this.leave('store-unavailable', CloseCode.TRY_AGAIN_LATER, 'session store unavailable');
    }
  }

  /** Stops serving the session here: tells the client `code` (if any) and the application. */
  private leave(reason: CloseReason, code: number | null, message: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.dropWaiting();
    this.host.wheel.cancel(this);
    this.host.acks.delete(this);
    const connection = this.connection;
    this.connection = null;
    if (code !== null) connection?.release(code, message);
    const waiters = this.durableWaiters;
    this.durableWaiters = [];
    for (const waiter of waiters) waiter.reject(new StoreError('fenced', `session ${reason}`));
    // Listeners still see the session as it was (its rooms, its data) when 'close' fires.
    this.events.close(this, reason);
    this.host.left(this, reason);
  }
}
