/**
 * The chat's own messages, carried as Probe message payloads (msgpack). Probe already delivers
 * them exactly once and in order; these types only say what the chat puts inside.
 */

/** Rooms offered by the demo. Fixed, so history stays bounded by rooms × `HISTORY_LIMIT`. */
export const ROOMS = ['general', 'random', 'dev', 'help'] as const;
export type RoomName = (typeof ROOMS)[number];

/** Messages kept per room for late joiners. */
export const HISTORY_LIMIT = 200;
export const MAX_TEXT_LENGTH = 2000;
export const MAX_NICK_LENGTH = 24;
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

export type ClientMessage = JoinRequest | SayRequest;

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
  /** Why the server suspended it (e.g. `'probe-timeout'`). */
  readonly reason: string;
}

/** server → client: a `say` was refused; `cid` is the refused message. */
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
  | RejectedMessage;

/** What `authenticate` accepts in `auth`. */
export interface ChatAuth {
  readonly nick: string;
}

/**
 * Validates a client message, or says why it is not one. Data from the wire is untrusted.
 * @returns the message, or a sentence naming what is wrong.
 */
export function parseClientMessage(data: unknown): ClientMessage | string {
  if (typeof data !== 'object' || data === null) return 'a message must be an object';
  const m = data as Record<string, unknown>;
  if (!isRoom(m.room)) return `unknown room '${String(m.room)}'`;
  if (m.type === 'join') return { type: 'join', room: m.room };
  if (m.type !== 'say') return `unknown message type '${String(m.type)}'`;
  if (typeof m.cid !== 'string' || m.cid.length === 0 || m.cid.length > MAX_CID_LENGTH) {
    return `'say' requires a 'cid' string of 1–${MAX_CID_LENGTH} characters`;
  }
  if (typeof m.text !== 'string') return "'say' requires a 'text' string";
  const text = m.text.trim();
  if (text.length === 0) return 'empty message';
  if (text.length > MAX_TEXT_LENGTH) return `message longer than ${MAX_TEXT_LENGTH} characters`;
  return { type: 'say', room: m.room, cid: m.cid, text };
}

/**
 * Cleans a nickname: trimmed, control characters removed, at most `MAX_NICK_LENGTH`.
 * @throws {Error} when nothing usable is left; the server refuses the session with its message.
 */
export function cleanNick(value: unknown): string {
  if (typeof value !== 'string') throw new Error('a nickname is required');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
  const nick = value.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  if (nick.length === 0) throw new Error('a nickname is required');
  return [...nick].slice(0, MAX_NICK_LENGTH).join('');
}
