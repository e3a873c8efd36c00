import {
  HISTORY_LIMIT,
  type Joined,
  type Member,
  type Post,
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
import { RoomHistory } from './history.js';

export {
  type ChatOptions,
  type ChatProbeServer,
  type ChatSession,
  RESTART_REFUSED,
} from './chat-base.js';

/**
 * The chat on one node, everything in memory: rooms (one at a time per session), bounded
 * history, and presence from the session lifecycle (see {@link ChatBase}).
 */
export class Chat extends ChatBase {
  private readonly histories = new Map<RoomName, RoomHistory>();

  constructor(server: ChatProbeServer, options: ChatOptions = {}) {
    super(server, options);
    const limit = options.historyLimit ?? HISTORY_LIMIT;
    for (const room of ROOMS) this.histories.set(room, new RoomHistory(room, limit));
  }

  /** The history of `room` (for tests and the info endpoint). */
  history(room: RoomName): RoomHistory {
    return this.histories.get(room)!;
  }

  /** Members of `room` with their status. */
  membersOf(room: RoomName): Member[] {
    const list: Member[] = [];
    for (const session of this.server.rooms.members(room)) {
      const state = this.members.get(session);
      if (state) list.push(memberOf(session, state));
    }
    return list;
  }

  roomSummaries(): RoomSummary[] {
    return ROOMS.map((name) => ({ name, members: this.server.rooms.members(name).length }));
  }

  protected async join(session: ChatSession, state: MemberState, room: RoomName): Promise<Joined> {
    const previous = state.room;
    if (previous !== null && previous !== room) {
      this.server.rooms.leave(previous, session);
      this.broadcast('left', { room: previous, id: session.data.id }, previous);
    }
    state.room = room;
    await this.server.rooms.join(room, session);
    if (previous !== room) {
      this.announce(session, state);
      await this.broadcastRooms();
    }
    return {
      room,
      history: this.history(room).snapshot(),
      members: this.membersOf(room),
      rooms: this.roomSummaries(),
      you: memberOf(session, state),
    };
  }

  protected async post(session: ChatSession, state: MemberState, post: Post): Promise<void> {
    if (state.room !== post.room) {
      this.reject(session, post.cid, 'not-in-room', `not in #${post.room}`);
      return;
    }
    const history = this.history(post.room);
    const earlier = history.findResent(session.data.author, post.cid);
    if (earlier) {
      // A re-send after a lost session: echo the stored copy to its author only.
      this.emit(session, 'posted', earlier);
      return;
    }
    const { id: from, nick, author } = session.data;
    const message = history.append(
      { ts: this.now(), from, nick, text: post.text, cid: post.cid },
      author,
    );
    // The author gets it too: that echo is what marks the message delivered.
    this.broadcast('posted', message, post.room);
  }

  protected presenceChanged(session: ChatSession, state: MemberState): void {
    this.announce(session, state);
  }

  protected closed(session: ChatSession, state: MemberState): void {
    // The SDK has already taken the session out of its rooms; tell the room it left.
    if (state.room === null) return;
    this.broadcast('left', { room: state.room, id: session.data.id }, state.room);
    this.track(this.broadcastRooms());
  }
}
