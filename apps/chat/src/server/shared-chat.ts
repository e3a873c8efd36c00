import { RequestError } from '@probe/server';
import {
  type ChatMessage,
  HISTORY_LIMIT,
  type Joined,
  type Member,
  type NodeInfo,
  type Post,
  type Restarting,
  ROOMS,
  type RoomName,
  type RoomSummary,
} from '../shared/schema.js';
import {
  ChatBase,
  type ChatOptions,
  type ChatProbeServer,
  type ChatSession,
  type MemberState,
  memberOf,
} from './chat-base.js';
import type { ChatRedis, PresenceEntry } from './chat-redis.js';

export interface SharedChatOptions extends ChatOptions {
  /** Shown on the page as "node <name>". */
  nodeName: string;
  /**
   * How often this node refreshes the presence entries of the sessions it serves and looks
   * for entries nobody refreshes any more (their node died), ms. @default 2000
   */
  presenceRefreshMs?: number;
  /**
   * Called when a page asks this node to restart. Without it such requests are refused.
   * It runs after the request was answered, so it may await {@link SharedChat.idle}.
   */
  onRestartRequest?: (() => void) | undefined;
}

/** Posts marked `redelivered`, and how many of them were already stored. */
export interface RedeliveryCounts {
  /** Posts a node that took a session over received marked `redelivered`. */
  seen: number;
  /** Of those, posts already in the history (by author and client id): stored once. */
  duplicates: number;
}

/**
 * The chat of one node of a cluster: several nodes share sessions (`RedisSessionStore`),
 * history and presence (Redis, see {@link ChatRedis}), and broadcast through
 * `server.broadcast(…, { room })`, which reaches every member on every node once, in one
 * room order. What a node keeps in memory (rate limits, the per-session work queue) can be
 * lost with the node: a session that moves here starts afresh on those.
 */
export class SharedChat extends ChatBase {
  readonly redelivered: RedeliveryCounts = { seen: 0, duplicates: 0 };
  readonly nodeName: string;
  private readonly historyLimit: number;
  private readonly refreshMs: number;
  private readonly onRestartRequest: (() => void) | undefined;
  private sweeping = false;

  constructor(
    server: ChatProbeServer,
    private readonly redis: ChatRedis,
    options: SharedChatOptions,
  ) {
    super(server, options, `[chat] node ${options.nodeName}:`);
    this.nodeName = options.nodeName;
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.refreshMs = options.presenceRefreshMs ?? 2000;
    this.onRestartRequest = options.onRestartRequest;
    this.every(this.refreshMs, () => this.track(this.refreshPresence()));
  }

  /** The node as the page shows it. */
  override get node(): NodeInfo {
    return {
      name: this.nodeName,
      id: this.server.nodeId,
      restartable: this.onRestartRequest !== undefined,
    };
  }

  /** The history of `room`, oldest first. */
  history(room: RoomName): Promise<ChatMessage[]> {
    return this.redis.history(room);
  }

  /** Members of `room` on every node, with their status. */
  async membersOf(room: RoomName): Promise<Member[]> {
    return (await this.redis.presence(room)).map(memberOfEntry);
  }

  async roomSummaries(): Promise<RoomSummary[]> {
    const counts = await this.redis.counts(ROOMS);
    return ROOMS.map((name, i) => ({ name, members: counts[i] ?? 0 }));
  }

  protected async join(session: ChatSession, state: MemberState, room: RoomName): Promise<Joined> {
    const previous = state.room;
    const id = session.data.id;
    if (previous !== null && previous !== room) {
      session.leave(previous);
      state.room = null;
      await this.redis.removePresence(previous, id);
      this.broadcast('left', { room: previous, id }, previous);
    }
    state.room = room;
    // Membership first: whatever is broadcast from now on reaches this session, and the
    // history read after it holds everything before. The page shows each seq once.
    await session.join(room).catch((error: unknown) => this.report(error));
    if (!session.rooms.has(room)) {
      // The store could not record the membership.
      state.room = null;
      throw new RequestError(
        'unavailable',
        `could not join #${room} (Redis unreachable); try again`,
      );
    }
    await this.redis.setPresence(
      [{ room, member: memberOf(session, state) }],
      this.nodeName,
      Date.now(),
    );
    const [history, members] = await Promise.all([
      this.redis.history(room),
      this.redis.presence(room),
    ]);
    if (previous !== room) {
      this.announce(session, state);
      await this.broadcastRooms();
    }
    return {
      room,
      history,
      members: members.map(memberOfEntry),
      rooms: await this.roomSummaries(),
      you: memberOf(session, state),
    };
  }

  protected async post(
    session: ChatSession,
    state: MemberState,
    post: Post,
    redelivered: boolean,
  ): Promise<void> {
    if (redelivered) this.redelivered.seen++;
    if (state.room !== post.room) {
      this.reject(session, post.cid, 'not-in-room', `not in #${post.room}`);
      return;
    }
    const { id: from, nick, author } = session.data;
    let stored: { message: ChatMessage; resent: boolean };
    try {
      stored = await this.redis.append(
        post.room,
        { ts: this.now(), from, nick, text: post.text, cid: post.cid },
        author,
        this.historyLimit,
      );
    } catch (error) {
      this.report(error);
      const reason = 'the chat could not store the message (Redis unreachable); try again';
      this.reject(session, post.cid, 'unavailable', reason);
      return;
    }
    const { message, resent } = stored;
    if (!resent) {
      // The author gets it too: that echo is what marks the message delivered.
      this.broadcast('posted', message, post.room);
    } else if (redelivered) {
      // Handed to a node that died before it stored that fact: that node stored the message
      // (found by author and client id), but may have died before broadcasting it. Broadcast
      // the stored copy again; pages show each seq once.
      this.redelivered.duplicates++;
      this.broadcast('posted', message, post.room);
    } else {
      // A re-send after a lost session: echo the stored copy to its author only.
      this.emit(session, 'posted', message);
    }
  }

  protected override restart(_session: ChatSession, redelivered: boolean): Restarting {
    const onRestart = this.onRestartRequest;
    if (!onRestart) {
      throw new RequestError('refused', 'this node cannot be restarted from the page');
    }
    // The node that received it first may have restarted already: one restart per press.
    if (redelivered) return { node: this.nodeName };
    console.log(`[chat] node ${this.nodeName}: restart requested from the page`);
    // After the reply is written: the close hands it over with the session.
    setImmediate(onRestart);
    return { node: this.nodeName };
  }

  protected presenceChanged(session: ChatSession, state: MemberState): void {
    this.enqueue(state, () => this.updatePresence(session, state));
  }

  protected closed(session: ChatSession, state: MemberState, reason: string): void {
    const room = state.room;
    state.room = null;
    // It lives on: on the node that took it over, or here once the store is back.
    if (reason === 'moved' || reason === 'store-unavailable') return;
    if (room === null) return;
    this.enqueue(state, async () => {
      // Told first: should Redis fail here, the entry is swept later, but nobody waits.
      this.broadcast('left', { room, id: session.data.id }, room);
      await this.redis.removePresence(room, session.data.id);
      await this.broadcastRooms();
    });
  }

  /** Stores the member's status and tells its room. */
  private async updatePresence(session: ChatSession, state: MemberState): Promise<void> {
    const room = state.room;
    if (room === null) return;
    const member = memberOf(session, state);
    await this.redis.setPresence([{ room, member }], this.nodeName, Date.now());
    this.broadcast('presence', { room, member }, room, session);
  }

  /**
   * Refreshes the presence entries of the sessions this node serves, then sweeps every room
   * for entries nobody refreshed: their node died and the session has not resumed elsewhere
   * yet (shown as reconnecting), or it never will (removed).
   */
  private async refreshPresence(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const entries: { room: RoomName; member: Member }[] = [];
      for (const [session, state] of this.members) {
        if (state.room !== null)
          entries.push({ room: state.room, member: memberOf(session, state) });
      }
      const now = Date.now();
      await this.redis.setPresence(entries, this.nodeName, now);
      const staleMs = this.refreshMs * 3 + 1000;
      const goneMs = this.server.options.sessionTtlMs + staleMs;
      let anyGone = false;
      for (const room of ROOMS) {
        const { reconnecting, gone } = await this.redis.sweep(room, now, staleMs, goneMs);
        for (const member of reconnecting) {
          this.broadcast('presence', { room, member: memberOfEntry(member) }, room);
          // Its session may have resumed on another node just now, whose 'online' went out
          // before ours: then say 'online' again, after ours.
          const current = await this.redis.presenceOf(room, member.id);
          if (current?.status === 'online') {
            this.broadcast('presence', { room, member: memberOfEntry(current) }, room);
          }
        }
        for (const id of gone) this.broadcast('left', { room, id }, room);
        anyGone ||= gone.length > 0;
      }
      if (anyGone) await this.broadcastRooms();
    } finally {
      this.sweeping = false;
    }
  }
}

function memberOfEntry(entry: PresenceEntry | Member): Member {
  return { id: entry.id, nick: entry.nick, status: entry.status };
}
