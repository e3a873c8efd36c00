import { ProbeError } from '@probe/server';
import {
  type ChatMessage,
  cidOf,
  HISTORY_LIMIT,
  isRoom,
  type Member,
  type MemberStatus,
  type NodeMessage,
  parseClientMessage,
  ROOMS,
  type RoomName,
  type RoomSummary,
  type SayRequest,
  type ServerMessage,
} from '../shared/messages.js';
import type { ChatOptions, ChatProbeServer, ChatSession } from './chat.js';
import type { ChatRedis, PresenceEntry } from './chat-redis.js';
import { checkRateLimit, DEFAULT_RATE_LIMIT, type RateLimit, TokenBucket } from './rate-limit.js';

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
   * It runs after the request was handled, so it may await {@link SharedChat.idle}.
   */
  onRestartRequest?: (() => void) | undefined;
}

interface MemberState {
  room: RoomName | null;
  status: MemberStatus;
  /** performance.now() of the last suspend on this node; null: not suspended here. */
  suspendedAt: number | null;
  suspendReason: string;
  /** The session came from another node and has not resumed here yet. */
  arrived: boolean;
  readonly bucket: TokenBucket;
  /** This session's work, one step at a time, in the order its events came. */
  tail: Promise<void>;
}

/** Client messages marked `redelivered`, and how many of them were already stored. */
export interface RedeliveryCounts {
  /** Messages a node that took a session over received marked `redelivered`. */
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
export class SharedChat {
  readonly redelivered: RedeliveryCounts = { seen: 0, duplicates: 0 };
  readonly nodeName: string;
  private readonly members = new Map<ChatSession, MemberState>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly now: () => number;
  private readonly rateLimit: RateLimit;
  private readonly historyLimit: number;
  private readonly refreshMs: number;
  private readonly onRestartRequest: (() => void) | undefined;
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private sweeping = false;

  constructor(
    private readonly server: ChatProbeServer,
    private readonly redis: ChatRedis,
    options: SharedChatOptions,
  ) {
    this.nodeName = options.nodeName;
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.now = options.now ?? Date.now;
    this.rateLimit = checkRateLimit(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.refreshMs = options.presenceRefreshMs ?? 2000;
    this.onRestartRequest = options.onRestartRequest;
    server.on('session', (session, { moved }) => this.onSession(session, moved));
    this.timers.push(
      setInterval(() => this.reportLinks(), options.linkIntervalMs ?? 2000),
      setInterval(() => this.track(this.refreshPresence()), this.refreshMs),
    );
    for (const timer of this.timers) timer.unref();
  }

  /** The node as the page shows it. */
  get node(): NodeMessage {
    return {
      type: 'node',
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
    return (await this.redis.presence(room)).map(memberOf);
  }

  async roomSummaries(): Promise<RoomSummary[]> {
    const counts = await this.redis.counts(ROOMS);
    return ROOMS.map((name, i) => ({ name, members: counts[i] ?? 0 }));
  }

  /** Stops the timers; what is under way goes on (see {@link idle}). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  /**
   * Resolves once no work is under way: every message received so far is stored and
   * broadcast. Resolves in the same turn as the check, so a `server.close()` right after it
   * starts before any further message can arrive.
   */
  async idle(): Promise<void> {
    while (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private track(work: Promise<void>): void {
    this.pending++;
    void work
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        if (--this.pending > 0) return;
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const wake of waiters) wake();
      });
  }

  /** Runs `step` after the session's earlier steps. */
  private enqueue(state: MemberState, step: () => Promise<void>): void {
    const next = state.tail.then(step);
    state.tail = next.catch(() => {});
    this.track(next);
  }

  private report(error: unknown): void {
    // A session that moved to another node while a step was under way: nothing to do here.
    if (error instanceof ProbeError && error.code === 'session-closed') return;
    console.error(`[chat] node ${this.nodeName}:`, error);
  }

  private onSession(session: ChatSession, moved: boolean): void {
    const state: MemberState = {
      room: null,
      status: 'online',
      suspendedAt: null,
      suspendReason: '',
      arrived: moved,
      bucket: new TokenBucket(this.rateLimit),
      tail: Promise.resolve(),
    };
    this.members.set(session, state);
    if (moved) {
      // Its rooms moved with it; its presence entry is rewritten on the 'resume' that follows.
      state.room = [...session.rooms].find(isRoom) ?? null;
    } else {
      this.enqueue(state, async () => {
        const rooms = await this.roomSummaries();
        send(session, { type: 'welcome', id: session.data.id, nick: session.data.nick, rooms });
        send(session, this.node);
      });
    }
    session.on('message', (data, { redelivered }) =>
      this.onMessage(session, state, data, redelivered),
    );
    session.on('suspend', (reason) => {
      state.status = 'reconnecting';
      state.suspendedAt = performance.now();
      state.suspendReason = reason;
      this.enqueue(state, () => this.updatePresence(session, state));
    });
    session.on('resume', ({ replayedToClient }) => {
      state.status = 'online';
      const { suspendedAt, arrived } = state;
      state.suspendedAt = null;
      state.arrived = false;
      send(session, {
        type: 'resumed',
        replayedToClient,
        suspendedMs: suspendedAt === null ? 0 : Math.round(performance.now() - suspendedAt),
        // '' when this node never saw it suspended (the client came back before it noticed).
        reason: arrived ? 'moved' : suspendedAt === null ? '' : state.suspendReason,
      });
      send(session, this.node);
      this.enqueue(state, () => this.updatePresence(session, state));
    });
    session.on('close', (reason) => {
      this.members.delete(session);
      const room = state.room;
      state.room = null;
      // It lives on: on the node that took it over, or here once the store is back.
      if (reason === 'moved' || reason === 'store-unavailable') return;
      if (room === null) return;
      this.enqueue(state, async () => {
        // Told first: should Redis fail here, the entry is swept later, but nobody waits.
        this.server.broadcast({ type: 'left', room, id: session.data.id }, { room });
        await this.redis.removePresence(room, session.data.id);
        await this.broadcastRooms();
      });
    });
  }

  private onMessage(
    session: ChatSession,
    state: MemberState,
    data: unknown,
    redelivered: boolean,
  ): void {
    if (!state.bucket.take()) {
      const { perSecond, burst } = this.rateLimit;
      const reason = `too many messages: at most ${perSecond} a second (${burst} at once); wait a moment`;
      send(session, { type: 'rejected', cid: cidOf(data), reason });
      return;
    }
    const message = parseClientMessage(data);
    if (typeof message === 'string') {
      send(session, { type: 'rejected', cid: cidOf(data), reason: message });
      return;
    }
    if (redelivered) this.redelivered.seen++;
    if (message.type === 'restart-node') {
      this.restart(session, redelivered);
      return;
    }
    this.enqueue(state, () =>
      message.type === 'join'
        ? this.join(session, state, message.room)
        : this.say(session, state, message, redelivered),
    );
  }

  private async join(session: ChatSession, state: MemberState, room: RoomName): Promise<void> {
    const previous = state.room;
    const id = session.data.id;
    if (previous !== null && previous !== room) {
      session.leave(previous);
      state.room = null;
      await this.redis.removePresence(previous, id);
      this.server.broadcast({ type: 'left', room: previous, id }, { room: previous });
    }
    state.room = room;
    // Membership first: whatever is broadcast from now on reaches this session, and the
    // history read after it holds everything before. The page shows each seq once.
    await session.join(room);
    if (!session.rooms.has(room)) {
      // The store could not record the membership (the SDK reports why on 'error').
      if (session.state === 'closed') return;
      state.room = null;
      const reason = `could not join #${room} (Redis unreachable); try again`;
      send(session, { type: 'rejected', cid: '', reason });
      return;
    }
    await this.redis.setPresence(
      [{ room, member: memberOfState(session, state) }],
      this.nodeName,
      Date.now(),
    );
    const [history, members] = await Promise.all([
      this.redis.history(room),
      this.redis.presence(room),
    ]);
    send(session, { type: 'joined', room, history, members: members.map(memberOf) });
    if (previous !== room) {
      this.announce(session, state);
      await this.broadcastRooms();
    }
  }

  private async say(
    session: ChatSession,
    state: MemberState,
    request: SayRequest,
    redelivered: boolean,
  ): Promise<void> {
    if (state.room !== request.room) {
      send(session, { type: 'rejected', cid: request.cid, reason: `not in #${request.room}` });
      return;
    }
    let stored: { message: ChatMessage; resent: boolean };
    try {
      stored = await this.redis.append(
        request.room,
        {
          ts: this.now(),
          from: session.data.id,
          nick: session.data.nick,
          text: request.text,
          cid: request.cid,
        },
        session.data.author,
        this.historyLimit,
      );
    } catch (error) {
      this.report(error);
      const reason = 'the chat could not store the message (Redis unreachable); try again';
      send(session, { type: 'rejected', cid: request.cid, reason });
      return;
    }
    const { message, resent } = stored;
    if (!resent) {
      // The author gets it too: that echo is what marks the message delivered.
      this.server.broadcast({ type: 'message', message }, { room: request.room });
    } else if (redelivered) {
      // Handed to a node that died before it stored that fact: that node stored the message
      // (found by author and client id), but may have died before broadcasting it. Broadcast
      // the stored copy again; pages show each seq once.
      this.redelivered.duplicates++;
      this.server.broadcast({ type: 'message', message }, { room: request.room });
    } else {
      // A re-send after a lost session: echo the stored copy to its author only.
      send(session, { type: 'message', message });
    }
  }

  private restart(session: ChatSession, redelivered: boolean): void {
    const onRestart = this.onRestartRequest;
    if (!onRestart) {
      const reason = 'this node cannot be restarted from the page';
      send(session, { type: 'rejected', cid: '', reason });
      return;
    }
    // A request the node that received it may already have acted on before it went away.
    if (redelivered) return;
    console.log(`[chat] node ${this.nodeName}: restart requested from the page`);
    setImmediate(onRestart);
  }

  /** Stores the member's status and tells its room. */
  private async updatePresence(session: ChatSession, state: MemberState): Promise<void> {
    const room = state.room;
    if (room === null) return;
    const member = memberOfState(session, state);
    await this.redis.setPresence([{ room, member }], this.nodeName, Date.now());
    this.server.broadcast({ type: 'presence', room, member }, { room, except: session });
  }

  /** Tells the rest of the member's room its status. */
  private announce(session: ChatSession, state: MemberState): void {
    if (state.room === null) return;
    this.server.broadcast(
      { type: 'presence', room: state.room, member: memberOfState(session, state) },
      { room: state.room, except: session },
    );
  }

  /** Member counts to every room (every session is in one room). */
  private async broadcastRooms(): Promise<void> {
    const rooms = await this.roomSummaries();
    for (const room of ROOMS) this.server.broadcast({ type: 'rooms', rooms }, { room });
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
          entries.push({ room: state.room, member: memberOfState(session, state) });
      }
      const now = Date.now();
      await this.redis.setPresence(entries, this.nodeName, now);
      const staleMs = this.refreshMs * 3 + 1000;
      const goneMs = this.server.options.sessionTtlMs + staleMs;
      let anyGone = false;
      for (const room of ROOMS) {
        const { reconnecting, gone } = await this.redis.sweep(room, now, staleMs, goneMs);
        for (const member of reconnecting) {
          this.server.broadcast({ type: 'presence', room, member: memberOf(member) }, { room });
          // Its session may have resumed on another node just now, whose 'online' went out
          // before ours: then say 'online' again, after ours.
          const current = await this.redis.presenceOf(room, member.id);
          if (current?.status === 'online') {
            this.server.broadcast({ type: 'presence', room, member: memberOf(current) }, { room });
          }
        }
        for (const id of gone) this.server.broadcast({ type: 'left', room, id }, { room });
        anyGone ||= gone.length > 0;
      }
      if (anyGone) await this.broadcastRooms();
    } finally {
      this.sweeping = false;
    }
  }

  private reportLinks(): void {
    const { probeIntervalMs, probeTimeoutMs } = this.server.options;
    const { open, suspended } = this.server.stats().sessions;
    for (const session of this.server.sessions()) {
      if (session.state !== 'open') continue;
      session.send({
        type: 'link',
        rttMs: session.rttMs === null ? null : Math.round(session.rttMs * 10) / 10,
        probeIntervalMs,
        probeTimeoutMs,
        sessions: { open, suspended },
      });
    }
  }
}

/** Sends unless the session has ended or left this node meanwhile. */
function send(session: ChatSession, message: ServerMessage): void {
  if (session.state !== 'closed') session.send(message);
}

function memberOfState(session: ChatSession, state: MemberState): Member {
  return { id: session.data.id, nick: session.data.nick, status: state.status };
}

function memberOf(entry: PresenceEntry | Member): Member {
  return { id: entry.id, nick: entry.nick, status: entry.status };
}
