/**
 * Every frame is one binary WebSocket message holding one MessagePack array whose first
 * element is the frame type. See PROTOCOL.md for the byte-level description.
 */
export const FrameType = {
  /** client → server: first frame on every connection. */
  HELLO: 1,
  /** server → client: answer to HELLO; the session is open from here on. */
  WELCOME: 2,
  /** server → client: liveness probe, to be answered at once. */
  PROBE: 3,
  /** client → server: echoes the probe id; may carry a cumulative ack. */
  PROBE_ANSWER: 4,
  /** both ways: an application message with a per-direction sequence number. */
  MESSAGE: 5,
  /** both ways: cumulative acknowledgement of messages received. */
  ACK: 6,
  /** both ways: the sender is closing; carries a close code and a reason. */
  GOODBYE: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Resume request carried in a HELLO. */
export interface ResumeRequest {
  readonly sessionId: string;
  readonly token: string;
  /** Highest server→client sequence number the client has received (0 for none). */
  readonly lastSeq: number;
  /** Highest client→server sequence number the client has assigned, sent or queued (0 for none). */
  readonly sentSeq: number;
}

/** client → server */
export interface HelloFrame {
  readonly type: typeof FrameType.HELLO;
  readonly version: number;
  /** Opaque credentials handed to the server's `authenticate` hook; `null` when absent. */
  readonly auth: unknown;
  readonly resume: ResumeRequest | null;
}

/** server → client */
export interface WelcomeFrame {
  readonly type: typeof FrameType.WELCOME;
  readonly version: number;
  readonly sessionId: string;
  /** Secret for the next resume. Rotated on every resume. */
  readonly token: string;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  /** Largest frame the server accepts, in bytes. */
  readonly maxPayloadBytes: number;
  /** True when an existing session was resumed. */
  readonly resumed: boolean;
  /** Highest client→server sequence number the server has received (0 for none). */
  readonly lastSeq: number;
  /** Highest server→client sequence number the server has assigned (0 for none). */
  readonly sentSeq: number;
}

/** server → client */
export interface ProbeFrame {
  readonly type: typeof FrameType.PROBE;
  /** Unsigned 32-bit id, unique per connection until it wraps. */
  readonly id: number;
}

/** client → server */
export interface ProbeAnswerFrame {
  readonly type: typeof FrameType.PROBE_ANSWER;
  readonly id: number;
  /** Cumulative ack of server→client messages, when there is one to give. */
  readonly ack: number | null;
}

/** How a MESSAGE that answers a request ended (PROTOCOL.md, requests). */
export const ReplyKind = {
  /** `data` is the handler's result. */
  OK: 1,
  /** `data` is `{ code, message }`: the handler failed or there was none. */
  ERROR: 2,
} as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

/** both ways */
export interface MessageFrame<T = unknown> {
  readonly type: typeof FrameType.MESSAGE;
  /** 1 for the first message of a session in this direction, then +1 each; 0: volatile. */
  readonly seq: number;
  readonly data: T;
  /** The event name of a named event or request; null (or absent) for a plain message. */
  readonly event?: string | null;
  /** A request's id (chosen by its sender, from 1), or the id of the request a reply answers. */
  readonly call?: number | null;
  /** Set on a reply: how the request ended. Null on a request or any other message. */
  readonly reply?: ReplyKind | null;
}

/** both ways */
export interface AckFrame {
  readonly type: typeof FrameType.ACK;
  /** Every message with a sequence number up to and including this one was received. */
  readonly seq: number;
}

/** both ways */
export interface GoodbyeFrame {
  readonly type: typeof FrameType.GOODBYE;
  readonly code: number;
  readonly reason: string;
}

export type Frame =
  | HelloFrame
  | WelcomeFrame
  | ProbeFrame
  | ProbeAnswerFrame
  | MessageFrame
  | AckFrame
  | GoodbyeFrame;

/** Frames a client may send. */
export type ClientFrame = HelloFrame | ProbeAnswerFrame | MessageFrame | AckFrame | GoodbyeFrame;
/** Frames a server may send. */
export type ServerFrame = WelcomeFrame | ProbeFrame | MessageFrame | AckFrame | GoodbyeFrame;
