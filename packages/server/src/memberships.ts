import { CloseCode } from '@probe/protocol';
import type { Connection } from './connection.js';
import { RoomFeed } from './room-feed.js';
import { Rooms } from './rooms.js';
import type { SessionCore } from './session-core.js';
import type { SessionStore } from './store.js';

/** What room membership needs from the registry. */
export interface MembershipHost {
  readonly store: SessionStore | null;
  connectionError(connection: Connection, code: string, closeCode: number, message: string): void;
  reportError(error: unknown): void;
}

/**
 * Room membership of the sessions this node serves. Membership is part of each session's
 * record, so it moves with the session; with a shared store, joining also fixes where in the
 * room's stream the member starts, and the {@link RoomFeed} delivers from there.
 */
export class Memberships {
  readonly rooms = new Rooms();
  /** Shared store: room messages across nodes. */
  readonly feed: RoomFeed | null;

  constructor(private readonly host: MembershipHost) {
    this.feed =
      host.store &&
      new RoomFeed(
        host.store,
        this.rooms,
        (error) => host.reportError(error),
        (core, room) => this.fellBehind(core, room),
      );
  }

  /** Joins `room`; with a shared store the member receives what is published from now on. */
  async join(core: SessionCore, room: string): Promise<void> {
    const { store } = this.host;
    const feed = this.feed;
    if (store === null || feed === null) {
      this.rooms.join(room, core);
      return;
    }
    if (core.record.rooms.includes(room)) return;
    try {
      // The cursor is known before the member is indexed, so it never sees older entries.
      const head = await store.roomHead(room);
      if (core.state === 'closed' || core.record.rooms.includes(room)) return;
      core.record.roomCursors[room] = head;
      this.rooms.join(room, core);
      await feed.watch(room);
      await store.sync(core.id, core.record.epoch, {
        rooms: [...core.record.rooms],
        roomCursors: { ...core.record.roomCursors },
      });
    } catch (error) {
      // Not in effect: the caller learns it (the join rejects) and the session is not indexed.
      this.rooms.leave(room, core);
      delete core.record.roomCursors[room];
      throw error;
    }
  }

  leave(core: SessionCore, room: string): void {
    if (!this.rooms.leave(room, core)) return;
    delete core.record.roomCursors[room];
    this.feed?.unwatchIfEmpty(room);
    const { store } = this.host;
    if (store === null || core.state === 'closed') return;
    store
      .sync(core.id, core.record.epoch, {
        rooms: [...core.record.rooms],
        roomCursors: { ...core.record.roomCursors },
      })
      .catch((error: unknown) => this.host.reportError(error));
  }

  /**
   * A session now served here (it moved from another node): index its rooms and deliver what
   * was published while it was elsewhere. Called only once this node owns the session, so no
   * room entry is numbered under the previous owner's epoch.
   */
  arrived(core: SessionCore): void {
    this.rooms.index(core);
    const feed = this.feed;
    if (!feed) return;
    for (const room of core.record.rooms) {
      void feed.watch(room).then(
        () => feed.advance(core, room),
        (error: unknown) => this.host.reportError(error),
      );
    }
  }

  /** The session is no longer served here (its record keeps its rooms). */
  forget(core: SessionCore): void {
    this.rooms.forget(core);
    for (const room of core.record.rooms) this.feed?.unwatchIfEmpty(room);
  }

  private fellBehind(core: SessionCore, room: string): void {
    if (core.connection) {
      const message = `fell too far behind room '${room}' (its oldest messages were trimmed)`;
      this.host.connectionError(
        core.connection,
        'buffer-overflow',
        CloseCode.BUFFER_OVERFLOW,
        message,
      );
    }
    core.end('buffer-overflow');
  }
}
