import type { EncodedPayload } from '@probe/protocol';
import type { Rooms } from './rooms.js';
import type { SessionCore } from './session-core.js';
import {
  compareEntryIds,
  type RoomEntry,
  type RoomListener,
  type SessionStore,
  StoreError,
} from './store.js';

/** Entries of a room kept here after reading them once, for members that are a little behind. */
const RECENT = 1024;
/** Entries read from the store per step when a member catches up from further back. */
const CATCH_UP_BATCH = 500;

interface Feed {
  /** The id this node's reading started after: `recent` holds every entry above it. */
  base: string;
  recent: RoomEntry[];
}

/**
 * Shared store: delivers room messages to the members this node serves. Each room is one
 * ordered stream in the store, read once per node; each member numbers the entries into its
 * own sequence from its stored cursor, so a member gets every entry exactly once and in the
 * room's order, whichever node serves it when (see docs/scale-out.md).
 */
export class RoomFeed implements RoomListener {
  private readonly feeds = new Map<string, Feed>();
  /** Members catching up from the store, per room; `again` when new entries came meanwhile. */
  private readonly catching = new Map<SessionCore, Map<string, { again: boolean }>>();

  constructor(
    private readonly store: SessionStore,
    private readonly rooms: Rooms,
    private readonly report: (error: unknown) => void,
    private readonly overflow: (core: SessionCore, room: string) => void,
  ) {
    store.listen(this);
  }

  /** Starts reading `room` here if this is its first local member. */
  async watch(room: string): Promise<void> {
    if (this.feeds.has(room)) return;
    const feed: Feed = { base: '0-0', recent: [] };
    this.feeds.set(room, feed);
    feed.base = await this.store.roomHead(room);
    this.store.watch(room, feed.base);
    // Members that arrived meanwhile (or moved here with an older cursor) catch up now.
    for (const core of this.rooms.members(room)) this.advance(core, room);
  }

  /** Stops reading `room` once no member here is in it. */
  unwatchIfEmpty(room: string): void {
    if (this.rooms.members(room).size > 0 || !this.feeds.has(room)) return;
    this.feeds.delete(room);
    this.store.unwatch(room);
  }

  entries(room: string, entries: readonly RoomEntry[]): void {
    const feed = this.feeds.get(room);
    if (!feed) return;
    const last = feed.recent.at(-1)?.id ?? feed.base;
    for (const entry of entries) {
      if (compareEntryIds(entry.id, last) > 0) feed.recent.push(entry);
    }
    if (feed.recent.length > RECENT) {
      const dropped = feed.recent.splice(0, feed.recent.length - RECENT);
      feed.base = dropped.at(-1)?.id ?? feed.base;
    }
    for (const core of this.rooms.members(room)) this.advance(core, room);
  }

  volatile(room: string, payload: Uint8Array, except: string | null): void {
    for (const core of this.rooms.members(room)) {
      if (core.id !== except) core.sendVolatile(payload as EncodedPayload);
    }
  }

  /** Delivers to `core` every entry of `room` after its cursor that this node knows of. */
  advance(core: SessionCore, room: string): void {
    // Left meanwhile (or never joined here): nothing to deliver, and no cursor to start from.
    if (!core.record.rooms.includes(room)) return;
    const busy = this.catching.get(core)?.get(room);
    if (busy) {
      busy.again = true;
      return;
    }
    const feed = this.feeds.get(room);
    const cursor = core.record.roomCursors[room] ?? '0-0';
    if (feed && compareEntryIds(cursor, feed.base) >= 0) {
      // A member is usually just behind the newest entries: find where it stands from the
      // end, so each new entry costs each member a comparison or two, not a walk of the list.
      const { recent } = feed;
      let from = recent.length;
      while (from > 0 && compareEntryIds(recent[from - 1]!.id, cursor) > 0) from--;
      for (let i = from; i < recent.length; i++) {
        if (core.state === 'closed' || !core.record.rooms.includes(room)) return;
        core.deliverRoom(room, recent[i]!);
      }
      return;
    }
    void this.catchUp(core, room);
  }

  /** Reads from the store what `core` missed before this node's recent entries begin. */
  private async catchUp(core: SessionCore, room: string): Promise<void> {
    let rooms = this.catching.get(core);
    if (!rooms) {
      rooms = new Map();
      this.catching.set(core, rooms);
    }
    rooms.set(room, { again: false });
    try {
      for (let steps = 0; steps < 10_000 && core.state !== 'closed'; steps++) {
        if (!core.record.rooms.includes(room)) break;
        const cursor = core.record.roomCursors[room] ?? '0-0';
        const feed = this.feeds.get(room);
        if (feed && compareEntryIds(cursor, feed.base) >= 0) break;
        const read = await this.store.readRoom(room, cursor, CATCH_UP_BATCH);
        if (read.trimmed) {
          this.overflow(core, room);
          return;
        }
        for (const entry of read.entries) {
          if (!core.record.rooms.includes(room)) break;
          core.deliverRoom(room, entry);
        }
        if (read.entries.length === 0) break;
      }
    } catch (error) {
      if (!(error instanceof StoreError)) this.report(error);
      // The store is unreachable: the member catches up on the next entry or resume.
    } finally {
      rooms.delete(room);
      if (rooms.size === 0) this.catching.delete(core);
    }
    if (core.state !== 'closed') this.advance(core, room);
  }
}
