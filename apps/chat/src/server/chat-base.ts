import { ProbeError, type ProbeServer, RequestError, type Session } from '@probe/server';
import {
  type ChatSchema,
  type Joined,
  type Member,
  type MemberStatus,
  type NodeInfo,
  type Post,
  type RefusalCode,
  type Restarting,
  ROOMS,
  type RoomName,
  type RoomSummary,
} from '../shared/schema.js';
import { cidOf, isRoom, parseJoin, parsePost, parseTyping } from '../shared/validate.js';
import type { ChatUser } from './auth.js';
import { checkRateLimit, DEFAULT_RATE_LIMIT, type RateLimit, TokenBucket } from './rate-limit.js';

export type ChatSession = Session<ChatUser, unknown, unknown, ChatSchema>;
export type ChatProbeServer = ProbeServer<ChatUser, unknown, unknown, ChatSchema>;
type ServerEvents = ChatSchema['serverEvents'];

/** Why a single node (no shared store) refuses to be restarted from the page. */
export const RESTART_REFUSED =
  'only a node of the cluster demo (npm run demo:cluster) can be restarted from the page';

/**
 * Typing indicators one session may send. The page sends one every 2 s while someone types;
 * more are dropped without a word (they are volatile: nobody is owed one).
 */
export const TYPING_RATE_LIMIT: RateLimit = { perSecond: 1, burst: 3 };

export interface ChatOptions {
  /** Messages kept per room. @default HISTORY_LIMIT (200) */
  historyLimit?: number;
  /** How often each open session is told its probe round-trip time, ms. @default 2000 */
  linkIntervalMs?: number;
  /** Clock for message timestamps. @default Date.now */
  now?: () => number;
  /**
   * Events and requests one session may send; over it, each is refused (a `rejected` event,
   * or a `rate-limited` RequestError) and nobody else is affected.
   * @default DEFAULT_RATE_LIMIT (10 a second, bursts of 20)
   */
  rateLimit?: RateLimit;
}

/** What the chat keeps per session on this node. */
export interface MemberState {
  room: RoomName | null;
  status: MemberStatus;
  /** performance.now() of the last suspend on this node; null: not suspended here. */
  suspendedAt: number | null;
  suspendReason: string;
  /** The session came from another node and has not resumed here yet. */
  arrived: boolean;
  /** Posts, joins, restarts and plain messages. */
  readonly bucket: TokenBucket;
  /** Typing indicators. */
  readonly typing: TokenBucket;
  /** This session's work, one step at a time, in the order its events came. */
  tail: Promise<void>;
}

/**
 * The chat's side of the schema, the same for one node in memory ({@link Chat}) and for a
 * node of a cluster ({@link SharedChat}): it validates and rate-limits every event and request
 * a client sends, runs each session's work in order, drives presence from the session
 * lifecycle (`suspend` → reconnecting, `resume` → online, `close` → gone), relays typing
 * indicators and reports each session's link. Where rooms, history and presence live is up to
 * the subclass.
 */
export abstract class ChatBase {
  protected readonly members = new Map<ChatSession, MemberState>();
  protected readonly now: () => number;
  protected readonly rateLimit: RateLimit;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private pending = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    protected readonly server: ChatProbeServer,
    options: ChatOptions,
    /** Prefix of the chat's own log lines. */
    private readonly label = '[chat]',
  ) {
    this.now = options.now ?? Date.now;
    this.rateLimit = checkRateLimit(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    server.on('session', (session, { moved }) => this.attach(session, moved));
    this.every(options.linkIntervalMs ?? 2000, () => this.reportLinks());
  }

  /** Member counts of every room. */
  abstract roomSummaries(): RoomSummary[] | Promise<RoomSummary[]>;

  /** Which node serves the sessions (cluster demo), announced on open and on every resume. */
  get node(): NodeInfo | null {
    return null;
  }

  /** Stops the timers; what is under way goes on (see {@link idle}). */
  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  /**
   * Resolves once no work is under way: every post received so far is stored and broadcast.
   * Resolves in the same turn as the check, so a `server.close()` right after it starts
   * before any further message can arrive.
   */
  async idle(): Promise<void> {
    while (this.pending > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** `join`: moves the session into `room` (from `state.room`, if other). */
  protected abstract join(
    session: ChatSession,
    state: MemberState,
    room: RoomName,
  ): Promise<Joined>;

  /** `post`, validated: stores and broadcasts it, or rejects it. */
  protected abstract post(
    session: ChatSession,
    state: MemberState,
    post: Post,
    redelivered: boolean,
  ): Promise<void>;

  /** The member's status changed (suspend, resume): tell its room. */
  protected abstract presenceChanged(session: ChatSession, state: MemberState): void;

  /** The session ended here (or, with `'moved'`, left this node). */
  protected abstract closed(session: ChatSession, state: MemberState, reason: string): void;

  /**
   * `restart-node`: a single node refuses it. `redelivered`: the node that received it first
   * may have acted on it already.
   */
  protected restart(_session: ChatSession, _redelivered: boolean): Restarting {
    throw new RequestError('refused', RESTART_REFUSED);
  }

  protected every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** Runs `step` after the session's earlier steps; a failure is logged. */
  protected enqueue(state: MemberState, step: () => Promise<void> | void): void {
    this.track(this.serial(state, step));
  }

  /** Keeps count of `work` for {@link idle}, and logs its failure. */
  protected track(work: Promise<unknown>): void {
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

  protected report(error: unknown): void {
    // A session that ended or moved to another node while a step was under way.
    if (error instanceof ProbeError && error.code === 'session-closed') return;
    console.error(this.label, error);
  }

  /** Sends `event` unless the session has ended or left this node meanwhile. */
  protected emit<K extends keyof ServerEvents>(
    session: ChatSession,
    event: K,
    payload: ServerEvents[K],
  ): void {
    if (session.state !== 'closed') session.emit(event, payload);
  }

  /** `event` to every member of `room` (on every node), but `except`. */
  protected broadcast<K extends keyof ServerEvents>(
    event: K,
    payload: ServerEvents[K],
    room: RoomName,
    except?: ChatSession,
  ): void {
    this.server.broadcast(payload, except ? { room, event, except } : { room, event });
  }

  /** Tells the rest of the member's room its status. */
  protected announce(session: ChatSession, state: MemberState): void {
    if (state.room === null) return;
    const member = memberOf(session, state);
    this.broadcast('presence', { room: state.room, member }, state.room, session);
  }

  /** Member counts to everyone: every session is in one room. */
  protected async broadcastRooms(): Promise<void> {
    const rooms = await this.roomSummaries();
    for (const room of ROOMS) this.broadcast('rooms', { rooms }, room);
  }

  protected reject(session: ChatSession, cid: string, code: RefusalCode, reason: string): void {
    this.emit(session, 'rejected', { cid, code, reason });
  }

  private attach(session: ChatSession, moved: boolean): void {
    const state: MemberState = {
      // A session that moved here brings its room (membership is part of the session).
      room: moved ? ([...session.rooms].find(isRoom) ?? null) : null,
      status: 'online',
      suspendedAt: null,
      suspendReason: '',
      arrived: moved,
      bucket: new TokenBucket(this.rateLimit),
      typing: new TokenBucket(TYPING_RATE_LIMIT),
      tail: Promise.resolve(),
    };
    this.members.set(session, state);
    if (!moved) {
      this.enqueue(state, async () => {
        const { id, nick } = session.data;
        this.emit(session, 'welcome', { id, nick, rooms: await this.roomSummaries() });
        const node = this.node;
        if (node) this.emit(session, 'node', node);
      });
    }
    this.wireRequests(session, state);
    this.wireEvents(session, state);
    this.wireLifecycle(session, state);
  }

  private wireRequests(session: ChatSession, state: MemberState): void {
    // Payloads typed `unknown`: the schema says what an honest client sends, not what arrives.
    session.handle('join', (payload: unknown) => {
      this.admit(state);
      const request = parseJoin(payload);
      if (typeof request === 'string') throw new RequestError('invalid', request);
      return this.serial(state, () => this.join(session, state, request.room));
    });
    session.handle('restart-node', (_payload, _session, { redelivered }) => {
      this.admit(state);
      return this.restart(session, redelivered);
    });
  }

  private wireEvents(session: ChatSession, state: MemberState): void {
    session.on('post', (payload: unknown, { redelivered }) => {
      if (!state.bucket.take()) {
        this.reject(session, cidOf(payload), 'rate-limited', this.tooMany());
        return;
      }
      const post = parsePost(payload);
      if (typeof post === 'string') {
        this.reject(session, cidOf(payload), 'invalid', post);
        return;
      }
      this.enqueue(state, () => this.post(session, state, post, redelivered));
    });
    session.on('typing', (payload: unknown) => {
      if (!state.typing.take()) return;
      const typing = parseTyping(payload);
      if (typeof typing === 'string') {
        this.reject(session, '', 'invalid', typing);
        return;
      }
      // Typing in a room the session is leaving or not yet in (a race with a room switch).
      if (typing.room !== state.room) return;
      const { id, nick } = session.data;
      this.server.broadcast(
        { room: typing.room, member: { id, nick } },
        { room: typing.room, event: 'typing', except: session, volatile: true },
      );
    });
    // Plain messages are no part of the chat: say so, as for any other bad input.
    session.on('message', () => {
      if (!state.bucket.take()) return;
      const reason = "plain messages are not used here: emit 'post' or 'typing', request 'join'";
      this.reject(session, '', 'invalid', reason);
    });
  }

  private wireLifecycle(session: ChatSession, state: MemberState): void {
    session.on('suspend', (reason) => {
      state.status = 'reconnecting';
      state.suspendedAt = performance.now();
      state.suspendReason = reason;
      this.presenceChanged(session, state);
    });
    session.on('resume', ({ replayedToClient }) => {
      state.status = 'online';
      const { suspendedAt, arrived } = state;
      state.suspendedAt = null;
      state.arrived = false;
      this.emit(session, 'resumed', {
        replayedToClient,
        suspendedMs: suspendedAt === null ? 0 : Math.round(performance.now() - suspendedAt),
        // '' when this node never saw it suspended (the client came back before it noticed).
        reason: arrived ? 'moved' : suspendedAt === null ? '' : state.suspendReason,
      });
      const node = this.node;
      if (node) this.emit(session, 'node', node);
      this.presenceChanged(session, state);
    });
    session.on('close', (reason) => {
      this.members.delete(session);
      this.closed(session, state, reason);
    });
  }

  /**
   * Counts a request against the session's rate limit.
   * @throws {RequestError} `rate-limited` over it.
   */
  private admit(state: MemberState): void {
    if (!state.bucket.take()) throw new RequestError('rate-limited', this.tooMany());
  }

  private tooMany(): string {
    const { perSecond, burst } = this.rateLimit;
    return `too many messages: at most ${perSecond} a second (${burst} at once); wait a moment`;
  }

  /** Runs `step` after the session's earlier steps and settles as it does. */
  private serial<T>(state: MemberState, step: () => Promise<T> | T): Promise<T> {
    const next = state.tail.then(step);
    state.tail = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  private reportLinks(): void {
    const { probeIntervalMs, probeTimeoutMs } = this.server.options;
    const { open, suspended } = this.server.stats().sessions;
    for (const session of this.server.sessions()) {
      // A suspended session would only queue stale figures for replay.
      if (session.state !== 'open') continue;
      session.emit('link', {
        rttMs: session.rttMs === null ? null : Math.round(session.rttMs * 10) / 10,
        probeIntervalMs,
        probeTimeoutMs,
        sessions: { open, suspended },
      });
    }
  }
}

/** The member as the others see it. */
export function memberOf(session: ChatSession, state: { status: MemberStatus }): Member {
  return { id: session.data.id, nick: session.data.nick, status: state.status };
}
