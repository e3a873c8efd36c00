/**
 * The chat's own messages, carried as Probe message payloads (msgpack). Probe already delivers
 * them exactly once and in order; these types only say what the chat puts inside.
 */

import { cleanName, kindOf, MAX_RAW_NAME_LENGTH, MAX_ROOM_LENGTH } from './names.js';

/** Rooms offered by the demo. Fixed, so history stays bounded by rooms × `HISTORY_LIMIT`. */
export const ROOMS = ['general', 'random', 'dev', 'help'] as const;
export type RoomName = (typeof ROOMS)[number];

/** Messages kept per room for late joiners. */
export const HISTORY_LIMIT = 200;
export const MAX_TEXT_LENGTH = 2000;
/** Client-generated message ids are at most this long. */
export const MAX_CID_LENGTH = 64;

export function isRoom(value: unknown): value is RoomName {
  return typeof value === 'string' && (ROOMS as readonly string[]).includes(value);
}

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

// ── client → server ──────────────────────────────────────────────────────────────────────

/** client → server: leave the current room (if any) and enter `room`. */
export interface JoinRequest {
  readonly type: 'join';
  readonly room: RoomName;
}

/** client → server: post `text` to `room`. */
export interface SayRequest {
  readonly type: 'say';
  readonly room: RoomName;
  readonly cid: string;
  readonly text: string;
}

/**
 * client → server, cluster demo only: restart the node serving this session. It closes with
 * `server.close()` (its sessions move to the other nodes) and the launcher starts it again.
 */
export interface RestartNodeRequest {
  readonly type: 'restart-node';
}

export type ClientMessage = JoinRequest | SayRequest | RestartNodeRequest;

// ── server → client ──────────────────────────────────────────────────────────────────────

/** server → client: first message of every new session. */
export interface WelcomeMessage {
  readonly type: 'welcome';
  /** This session's public member id. */
  readonly id: string;
  readonly nick: string;
  readonly rooms: readonly RoomSummary[];
}

/** server → client: you are in `room`; its recent history and members. */
export interface JoinedMessage {
  readonly type: 'joined';
  readonly room: RoomName;
  readonly history: readonly ChatMessage[];
  readonly members: readonly Member[];
}

/** server → client: a new message in your room (your own ones included: that is the echo). */
export interface PostedMessage {
  readonly type: 'message';
  readonly message: ChatMessage;
}

/** server → client: a member of `room` came, went away for a moment, or came back. */
export interface PresenceMessage {
  readonly type: 'presence';
  readonly room: RoomName;
  readonly member: Member;
}

/** server → client: a member left `room` (switched room or session ended). */
export interface LeftMessage {
  readonly type: 'left';
  readonly room: RoomName;
  readonly id: string;
}

/** server → client: member counts of every room changed. */
export interface RoomsMessage {
  readonly type: 'rooms';
  readonly rooms: readonly RoomSummary[];
}

/** server → client: periodic link report: this session's smoothed probe round-trip time. */
export interface LinkMessage {
  readonly type: 'link';
  /** `session.rttMs`, null before the first probe answer. */
  readonly rttMs: number | null;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** Sessions on the server, by state. */
  readonly sessions: { readonly open: number; readonly suspended: number };
}

/** server → client: your session resumed; what the server saw of it. */
export interface ResumedMessage {
  readonly type: 'resumed';
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
 * server → client, cluster demo only: which node serves this session. Sent when a session
 * opens and on every resume, so the page can tell when its session moved to another node.
 */
export interface NodeMessage {
  readonly type: 'node';
  /** Short name given by the launcher, e.g. `'A'`. A restarted node keeps its name. */
  readonly name: string;
  /** The server's `nodeId`: new for every process, so a restarted node has a new one. */
  readonly id: string;
  /** Whether this node accepts `restart-node` requests. */
  readonly restartable: boolean;
}

/**
 * server → client: a message was refused (invalid, not allowed, or over the rate limit);
 * `cid` is the refused `say`, or `''` when the message had no well-formed id.
 */
export interface RejectedMessage {
  readonly type: 'rejected';
  readonly cid: string;
  readonly reason: string;
}

export type ServerMessage =
  | WelcomeMessage
  | JoinedMessage
  | PostedMessage
  | PresenceMessage
  | LeftMessage
  | RoomsMessage
  | LinkMessage
  | ResumedMessage
  | NodeMessage
  | RejectedMessage;

/** What `authenticate` accepts in `auth`. */
export interface ChatAuth {
  readonly nick: string;
  /**
   * A secret the tab picks at random (see {@link isAuthorKey}) and keeps to itself. The server
   * recognises a re-sent message by this key and the message's id, so a re-send after a lost
   * session is not stored twice, and nobody else can claim the tab's ids. Without a key,
   * re-sends are recognised within one session only.
   */
  readonly key?: string;
}

export function isAuthorKey(value: unknown): value is string {
  return typeof value === 'string' && /^[\w-]{16,128}$/.test(value);
}

/**
 * Client message ids: letters, digits, `_` and `-`. They are broadcast with the message, so
 * nothing in them may render oddly.
 */
export function isCid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CID_LENGTH && /^[\w-]+$/.test(value);
}

/** The id of an incoming message if it has a well-formed one, else `''` (for refusals). */
export function cidOf(data: unknown): string {
  const cid = typeof data === 'object' && data !== null ? (data as { cid?: unknown }).cid : '';
  return isCid(cid) ? cid : '';
}

function parseRoom(value: unknown): RoomName | string {
  if (typeof value !== 'string') return `'room' must be a string, got ${kindOf(value)}`;
  if (value.length > MAX_RAW_NAME_LENGTH) return `'room' is too long (${value.length} characters)`;
  const room = cleanName(value, MAX_ROOM_LENGTH);
  return isRoom(room) ? room : `unknown room '${room}'`;
}

/**
 * Validates a client message, or says why it is not one. Data from the wire is untrusted:
 * every field is checked by type and length before use, never converted, and an error names
 * a bad value by its kind or its cleaned, bounded form only.
 * @returns the message, or a sentence naming what is wrong.
 */
export function parseClientMessage(data: unknown): ClientMessage | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return 'a message must be an object';
  }
  const m = data as Record<string, unknown>;
  if (typeof m.type !== 'string') return `'type' must be a string, got ${kindOf(m.type)}`;
  if (m.type === 'restart-node') return { type: 'restart-node' };
  if (m.type !== 'join' && m.type !== 'say') {
    return `unknown message type '${cleanName(m.type.slice(0, MAX_RAW_NAME_LENGTH), 16)}'`;
  }
  const room = parseRoom(m.room);
  if (!isRoom(room)) return room;
  if (m.type === 'join') return { type: 'join', room };
  if (!isCid(m.cid)) {
    return `'say' requires a 'cid' of 1–${MAX_CID_LENGTH} letters, digits, '_' or '-'`;
  }
  if (typeof m.text !== 'string') return `'text' must be a string, got ${kindOf(m.text)}`;
  const text = m.text.trim();
  if (text.length === 0) return 'empty message';
  if (text.length > MAX_TEXT_LENGTH) return `message longer than ${MAX_TEXT_LENGTH} characters`;
  return { type: 'say', room, cid: m.cid, text };
}
