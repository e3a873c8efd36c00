/**
 * The chat's events and requests, declared once for the page (`ProbeClient<…, ChatSchema>`)
 * and the server (`ProbeServer<…, ChatSchema>`), so both sides are checked against the same
 * names and payloads. Probe delivers them exactly once and in order (volatile ones at most
 * once); the types say what an honest client sends, and the server still validates every
 * client payload (see `validate.ts`): clients are untrusted.
 */

import type { DefineSchema } from '@probe/client';

/** Rooms offered by the demo. Fixed, so history stays bounded by rooms × `HISTORY_LIMIT`. */
export const ROOMS = ['general', 'random', 'dev', 'help'] as const;
export type RoomName = (typeof ROOMS)[number];

/** Messages kept per room for late joiners. */
export const HISTORY_LIMIT = 200;
export const MAX_TEXT_LENGTH = 2000;
/** Client-generated message ids are at most this long. */
export const MAX_CID_LENGTH = 64;

/** A message as stored and broadcast by the server. */
export interface ChatMessage {
  readonly room: RoomName;
  /** Server-assigned, per room, from 1, without gaps: the display key. */
  readonly seq: number;
  /** Server time, ms since the epoch. */
  readonly ts: number;
  /** Public id of the author (never the session id, which is resumable with its token). */
  readonly from: string;
  readonly nick: string;
  readonly text: string;
  /** The author's own id for it, so the author can match the echo to its pending copy. */
  readonly cid: string;
}

export type MemberStatus = 'online' | 'reconnecting';

export interface Member {
  readonly id: string;
  readonly nick: string;
  readonly status: MemberStatus;
}

export interface RoomSummary {
  readonly name: RoomName;
  /** Members present, online or reconnecting. */
  readonly members: number;
}

/** What `authenticate` accepts in `auth`. */
export interface ChatAuth {
  readonly nick: string;
  /**
   * A secret the tab picks at random (see `isAuthorKey`) and keeps to itself. The server
   * recognises a re-sent message by this key and the message's id, so a re-send after a lost
   * session is not stored twice, and nobody else can claim the tab's ids. Without a key,
   * re-sends are recognised within one session only.
   */
  readonly key?: string;
}

// ── client → server: events ──────────────────────────────────────────────────────────────

/** client → server `post`: a new message for `room` (the room the session is in). */
export interface Post {
  readonly room: RoomName;
  /** The tab's id for it: a re-send with the same id (and author) is stored once. */
  readonly cid: string;
  readonly text: string;
}

/** client → server `typing`, volatile: the member is typing in `room`. */
export interface Typing {
  readonly room: RoomName;
}

// ── client → server: requests ────────────────────────────────────────────────────────────

/** client → server `join`: leave the current room (if any) and enter `room`. */
export interface JoinRequest {
  readonly room: RoomName;
}

/** The reply to `join`: you are in `room`; its recent history and members. */
export interface Joined {
  readonly room: RoomName;
  readonly history: readonly ChatMessage[];
  readonly members: readonly Member[];
  /** Member counts of every room. */
  readonly rooms: readonly RoomSummary[];
  /** This session as the others see it (also after a page reload recovered the session). */
  readonly you: Member;
}

/** The reply to `restart-node`: the node that is about to restart. */
export interface Restarting {
  readonly node: string;
}

// ── server → client: events ──────────────────────────────────────────────────────────────

/** server → client `welcome`: first event of every new session. */
export interface Welcome {
  /** This session's public member id. */
  readonly id: string;
  readonly nick: string;
  readonly rooms: readonly RoomSummary[];
}

/** server → client `presence`: a member of `room` came, went away for a moment, or came back. */
export interface Presence {
  readonly room: RoomName;
  readonly member: Member;
}

/** server → client `left`: a member left `room` (switched room or session ended). */
export interface Left {
  readonly room: RoomName;
  readonly id: string;
}

/** server → client `rooms`: member counts of every room changed. */
export interface Rooms {
  readonly rooms: readonly RoomSummary[];
}

/** server → client `typing`, volatile: someone else in `room` is typing. */
export interface TypingNotice {
  readonly room: RoomName;
  readonly member: { readonly id: string; readonly nick: string };
}

/** server → client `link`, every 2 s: this session's smoothed probe round-trip time. */
export interface LinkReport {
  /** `session.rttMs`, null before the first probe answer. */
  readonly rttMs: number | null;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** Sessions on the server, by state. */
  readonly sessions: { readonly open: number; readonly suspended: number };
}

/** server → client `resumed`: your session resumed; what the server saw of it. */
export interface Resumed {
  /** Messages the server re-sent to you (you had not received them). */
  readonly replayedToClient: number;
  /** How long the server held the session suspended, ms. */
  readonly suspendedMs: number;
  /**
   * Why the server suspended it (e.g. `'probe-timeout'`); `'moved'` when the session came
   * from another node (which served it until then); `''` when it was not suspended.
   */
  readonly reason: string;
}

/**
 * server → client `node`, cluster demo only: which node serves this session. Sent when a
 * session opens and on every resume, so the page can tell when its session moved.
 */
export interface NodeInfo {
  /** Short name given by the launcher, e.g. `'A'`. A restarted node keeps its name. */
  readonly name: string;
  /** The server's `nodeId`: new for every process, so a restarted node has a new one. */
  readonly id: string;
  /** Whether this node accepts `restart-node` requests. */
  readonly restartable: boolean;
}

/**
 * Why the server refused something: the `code` of a failed request's `RequestError`, and of a
 * {@link Rejected} event.
 */
export type RefusalCode = 'invalid' | 'rate-limited' | 'not-in-room' | 'unavailable' | 'refused';

/**
 * server → client `rejected`: an event was refused (events have no reply; requests fail with a
 * `RequestError` of the same code instead). `cid` names the refused `post`, or is `''` when
 * the event had no well-formed id.
 */
export interface Rejected {
  readonly cid: string;
  readonly code: RefusalCode;
  readonly reason: string;
}

export type ChatSchema = DefineSchema<{
  clientEvents: {
    post: Post;
    /** Sent volatile: only while connected, never queued or replayed. */
    typing: Typing;
  };
  serverEvents: {
    welcome: Welcome;
    /** A new message in your room (your own ones included: that is the echo). */
    posted: ChatMessage;
    presence: Presence;
    left: Left;
    rooms: Rooms;
    /** Broadcast volatile to the room, except the typer. */
    typing: TypingNotice;
    link: LinkReport;
    resumed: Resumed;
    node: NodeInfo;
    rejected: Rejected;
  };
  clientRequests: {
    join: (request: JoinRequest) => Joined;
    /**
     * Cluster demo only: restart the node serving this session. It closes with
     * `server.close()` (its sessions move to the other nodes) and the launcher starts it again.
     */
    'restart-node': (request: null) => Restarting;
  };
}>;

/** The names of the server's events, for code that listens to all of them. */
export type ServerEventName = keyof ChatSchema['serverEvents'];
