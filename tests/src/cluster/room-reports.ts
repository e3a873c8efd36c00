// What the room suite's node processes (room-node.ts) and member processes (member-process.ts)
// tell the test over IPC, what the test tells the nodes, and the messages members and nodes
// exchange over Probe. Every `at` is in µs on the machine's monotonic clock (`nowUs()`), the
// same in every process, so reports from different nodes and the test's own readings can be
// put in one order.

/** µs on the machine's monotonic clock, comparable across processes. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** How a room node is configured (passed as JSON in argv). */
export interface RoomNodeSettings {
  readonly redisUrl: string;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly sessionTtlMs: number;
  /** ProbeServer `ackDelayMs`; its default when absent. */
  readonly ackDelayMs?: number;
  /** RedisSessionStore `endedTtlMs`; its default (10 min) when absent. */
  readonly endedTtlMs?: number;
  /** RedisSessionStore `heartbeatMs`; its default (1 s) when absent. */
  readonly heartbeatMs?: number;
  /** RedisSessionStore `operationTimeoutMs`; its default (2 s) when absent. */
  readonly operationTimeoutMs?: number;
}

/** What a member sends as `auth`; the node keeps it as the session's data. */
export interface MemberAuth {
  readonly m: number;
}

/** Member → node: join or leave `room`; `j` numbers the member's operations 1, 2, 3… */
export interface MemberCommand {
  readonly op: 'join' | 'leave';
  readonly room: string;
  readonly j: number;
}

/** Node → member: a room message, `b` numbering the room's broadcasts 1, 2, 3… */
export interface RoomMessage {
  readonly room: string;
  readonly b: number;
}

/** Node → member: the answer to operation `j`, from node `node`, once it took effect there. */
export interface OpReply {
  readonly done: 'join' | 'leave';
  readonly room: string;
  readonly j: number;
  readonly node: string;
}

export type MemberInbound = RoomMessage | OpReply;

/** Test → node: broadcast `{ room, b }` to `room`. */
export interface BroadcastCommand {
  readonly broadcast: number;
  readonly room: string;
}

export interface RoomReadyReport {
  readonly ready: true;
  readonly port: number;
  readonly nodeId: string;
}

/** A session started on the node: a new one, or one that moved here. */
export interface RoomSessionReport {
  readonly session: string;
  readonly m: number;
  readonly moved: boolean;
  readonly node: string;
}

/** The node called `session.join(room)` for member `m`'s operation `j`. */
export interface JoinCallReport {
  readonly joinCall: number;
  readonly room: string;
  readonly j: number;
  readonly redelivered: boolean;
  readonly node: string;
  readonly at: number;
}

/**
 * `await session.join(room)` resolved. `member` and `state` are what the node saw right after:
 * a join that resolved on a session that is no longer served here (`state` closed) or that
 * is not a member is reported too, so the test can tell.
 */
export interface JoinedReport {
  readonly joined: number;
  readonly room: string;
  readonly j: number;
  readonly node: string;
  readonly at: number;
  readonly member: boolean;
  readonly state: string;
}

/** `session.join(room)` threw or rejected. */
export interface JoinFailedReport {
  readonly joinFailed: number;
  readonly room: string;
  readonly j: number;
  readonly node: string;
  readonly error: string;
}

/** The node called `session.leave(room)` for member `m`'s operation `j` (`at`: just before). */
export interface LeaveReport {
  readonly left: number;
  readonly room: string;
  readonly j: number;
  readonly redelivered: boolean;
  readonly node: string;
  readonly at: number;
}

/** The node is about to call `server.broadcast({ room, b }, { room })`. */
export interface PublishCallReport {
  readonly publishCall: number;
  readonly room: string;
  readonly node: string;
  readonly at: number;
}

/** The store's append of broadcast `b` returned: the entry `id` is in the room's stream. */
export interface PublishedReport {
  readonly published: number;
  readonly room: string;
  readonly id: string;
  readonly node: string;
  readonly at: number;
}

/** The store's append of broadcast `b` failed. */
export interface PublishFailedReport {
  readonly publishFailed: number;
  readonly room: string;
  readonly node: string;
  readonly error: string;
}

/** Member `m`'s session resumed here: `local` when it already lived on this node. */
export interface ResumedReport {
  readonly resumed: number;
  readonly local: boolean;
  readonly node: string;
  readonly at: number;
}

/** Member `m`'s session lost its connection here (`reason` as the server gives it). */
export interface SuspendedReport {
  readonly suspended: number;
  readonly reason: string;
  readonly node: string;
  readonly at: number;
}

/** The server emitted 'error'. */
export interface RoomErrorReport {
  readonly error: string;
  readonly node: string;
}

export type RoomNodeReport =
  | RoomReadyReport
  | RoomSessionReport
  | JoinCallReport
  | JoinedReport
  | JoinFailedReport
  | LeaveReport
  | PublishCallReport
  | PublishedReport
  | PublishFailedReport
  | ResumedReport
  | SuspendedReport
  | RoomErrorReport;
