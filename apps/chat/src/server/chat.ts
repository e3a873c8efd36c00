import type { ProbeServer, Session } from '@probe/server';
import {
  type ChatMessage,
  cidOf,
  HISTORY_LIMIT,
  type Member,
  type MemberStatus,
  parseClientMessage,
  ROOMS,
  type RoomName,
  type RoomSummary,
  type SayRequest,
  type ServerMessage,
} from '../shared/messages.js';
import type { ChatUser } from './auth.js';
import { RoomHistory } from './history.js';
import { checkRateLimit, DEFAULT_RATE_LIMIT, type RateLimit, TokenBucket } from './rate-limit.js';

/** Why a single node (no shared store) refuses to be restarted from the page. */
export const RESTART_REFUSED =
  'only a node of the cluster demo (npm run demo:cluster) can be restarted from the page';

export type ChatSession = Session<ChatUser, unknown, ServerMessage>;
export type ChatProbeServer = ProbeServer<ChatUser, unknown, ServerMessage>;

interface MemberState {
  room: RoomName | null;
  status: MemberStatus;
  suspendedAt: number;
  suspendReason: string;
  readonly bucket: TokenBucket;
}

export interface ChatOptions {
  /** Messages kept per room. @default HISTORY_LIMIT (200) */
  historyLimit?: number;
  /** How often each open session is told its probe round-trip time, ms. @default 2000 */
  linkIntervalMs?: number;
  /** Clock for message timestamps. @default Date.now */
  now?: () => number;
  /**
   * Messages one session may send; over it, each message is refused with a notice to its
   * sender. @default DEFAULT_RATE_LIMIT (10 a second, bursts of 20)
   */
  rateLimit?: RateLimit;
}

/**
 * The chat on top of a ProbeServer: rooms (one at a time per session), bounded history, and
 * presence driven by the session lifecycle: `suspend` → reconnecting, `resume` → online,
 * `close` → gone. Everything is in memory.
 */
export class Chat {
  private readonly histories = new Map<RoomName, RoomHistory>();
  private readonly members = new Map<ChatSession, MemberState>();
  private readonly linkTimer: ReturnType<typeof setInterval>;
  private readonly now: () => number;
  private readonly rateLimit: RateLimit;

  constructor(
    private readonly server: ChatProbeServer,
    options: ChatOptions = {},
  ) {
    const limit = options.historyLimit ?? HISTORY_LIMIT;
    for (const room of ROOMS) this.histories.set(room, new RoomHistory(room, limit));
    this.now = options.now ?? Date.now;
    this.rateLimit = checkRateLimit(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    server.on('session', (session) => this.onSession(session));
    this.linkTimer = setInterval(() => this.reportLinks(), options.linkIntervalMs ?? 2000);
    this.linkTimer.unref();
  }

  /** The history of `room` (for tests and the info endpoint). */
  history(room: RoomName): RoomHistory {
    return this.histories.get(room)!;
  }

  /** Members of `room` with their status. */
  membersOf(room: RoomName): Member[] {
    const list: Member[] = [];
    for (const session of this.server.rooms.members(room)) {
      const state = this.members.get(session as ChatSession);
      if (state) list.push(memberOf(session as ChatSession, state));
    }
    return list;
  }

  roomSummaries(): RoomSummary[] {
    return ROOMS.map((name) => ({ name, members: [...this.server.rooms.members(name)].length }));
  }

  stop(): void {
    clearInterval(this.linkTimer);
  }

  private onSession(session: ChatSession): void {
    const state: MemberState = {
      room: null,
      status: 'online',
      suspendedAt: 0,
      suspendReason: '',
      bucket: new TokenBucket(this.rateLimit),
    };
    this.members.set(session, state);
    session.send({
      type: 'welcome',
      id: session.data.id,
      nick: session.data.nick,
      rooms: this.roomSummaries(),
    });
    session.on('message', (data) => this.onMessage(session, state, data));
    session.on('suspend', (reason) => {
      state.status = 'reconnecting';
      state.suspendedAt = performance.now();
      state.suspendReason = reason;
      this.announce(session, state);
    });
    session.on('resume', ({ replayedToClient }) => {
      state.status = 'online';
      this.announce(session, state);
      session.send({
        type: 'resumed',
        replayedToClient,
        suspendedMs: Math.round(performance.now() - state.suspendedAt),
        reason: state.suspendReason,
      });
    });
    session.on('close', () => {
      // The SDK has already taken the session out of its rooms; tell the room it left.
      this.members.delete(session);
      if (state.room !== null) {
        this.server.broadcast(
          { type: 'left', room: state.room, id: session.data.id },
          { room: state.room },
        );
        this.broadcastRooms();
      }
    });
  }

  private onMessage(session: ChatSession, state: MemberState, data: unknown): void {
    // Every message counts, invalid ones and joins too: each costs the server a reply or a
    // broadcast to the room.
    if (!state.bucket.take()) {
      const { perSecond, burst } = this.rateLimit;
      const reason = `too many messages: at most ${perSecond} a second (${burst} at once); wait a moment`;
      session.send({ type: 'rejected', cid: cidOf(data), reason });
      return;
    }
    const message = parseClientMessage(data);
    if (typeof message === 'string') {
      session.send({ type: 'rejected', cid: cidOf(data), reason: message });
      return;
    }
    if (message.type === 'join') this.join(session, state, message.room);
    else if (message.type === 'say') this.say(session, state, message);
    else session.send({ type: 'rejected', cid: '', reason: RESTART_REFUSED });
  }

  private join(session: ChatSession, state: MemberState, room: RoomName): void {
    const previous = state.room;
    if (previous !== null && previous !== room) {
      this.server.rooms.leave(previous, session);
      this.server.broadcast(
        { type: 'left', room: previous, id: session.data.id },
        { room: previous },
      );
    }
    state.room = room;
    this.server.rooms.join(room, session);
    session.send({
      type: 'joined',
      room,
      history: this.history(room).snapshot(),
      members: this.membersOf(room),
    });
    if (previous !== room) {
      this.announce(session, state);
      this.broadcastRooms();
    }
  }

  private say(session: ChatSession, state: MemberState, request: SayRequest): void {
    if (state.room !== request.room) {
      session.send({ type: 'rejected', cid: request.cid, reason: `not in #${request.room}` });
      return;
    }
    const history = this.history(request.room);
    const earlier = history.findResent(session.data.author, request.cid);
    if (earlier) {
      // A re-send after a lost session: echo the stored copy to its author only.
      session.send({ type: 'message', message: earlier });
      return;
    }
    const message: ChatMessage = history.append(
      {
        ts: this.now(),
        from: session.data.id,
        nick: session.data.nick,
        text: request.text,
        cid: request.cid,
      },
      session.data.author,
    );
    // The author gets it too: that echo is what marks the message delivered.
    this.server.broadcast({ type: 'message', message }, { room: request.room });
  }

  /** Tells the rest of the member's room its status. */
  private announce(session: ChatSession, state: MemberState): void {
    if (state.room === null) return;
    this.server.broadcast(
      { type: 'presence', room: state.room, member: memberOf(session, state) },
      { room: state.room, except: session },
    );
  }

  private broadcastRooms(): void {
    this.server.broadcast({ type: 'rooms', rooms: this.roomSummaries() });
  }

  private reportLinks(): void {
    const { probeIntervalMs, probeTimeoutMs } = this.server.options;
    const { open, suspended } = this.server.stats().sessions;
    for (const session of this.server.sessions()) {
      // A suspended session would only queue stale figures for replay.
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

function memberOf(session: ChatSession, state: MemberState): Member {
  return { id: session.data.id, nick: session.data.nick, status: state.status };
}
