import type { UnconfirmedEvent } from './unconfirmed.js';

/**
 * `'suspended'`: `suspend()` dropped the connection and the server keeps the session until
 * `connect()` resumes it. `'closed'`: stopped for good, or not connected yet with
 * `autoConnect: false` (`send()` queues then).
 */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'suspended' | 'closed';

export interface OpenInfo {
  sessionId: string;
  /** True when an existing session continued; false for a new session. */
  resumed: boolean;
}

export interface ClientResumeInfo {
  sessionId: string;
  /** Messages re-sent to the server because it had not received them. */
  replayedToServer: number;
  /** Messages the server is re-sending because this client had not received them. */
  replayedFromServer: number;
}

/** Why the server refused to resume, as a stable string. */
export type SessionLostReason =
  | 'session-unknown'
  | 'session-expired'
  | 'server-restarted'
  | 'token-invalid'
  /** The session had ended already (overflow, or closed by the server or another client). */
  | 'session-ended'
  | 'buffer-overflow';

export interface SessionLostInfo<Out> {
  reason: SessionLostReason;
  /** The close code behind `reason` (4010–4499). */
  code: number;
  /** The id of the session that is gone. */
  sessionId: string | null;
  /**
   * Messages this client sent (or queued) that the server never acknowledged, oldest first.
   * They were not re-sent on the new session: the application decides what to do with them.
   * Plain messages only; named events are in `unconfirmedEvents`, and pending requests reject
   * with a `ProbeError` `session-lost`.
   */
  unconfirmed: Out[];
  /** Named events (`emit()`) the server never acknowledged, oldest first, with their names. */
  unconfirmedEvents: UnconfirmedEvent[];
}

export interface DisconnectInfo {
  code: number;
  reason: string;
  /** Consecutive failed attempts so far (1 for the first retry). */
  attempt: number;
  /** Delay before the next attempt, in ms. */
  delayMs: number;
}

export interface CloseInfo<Out> {
  code: number;
  reason: string;
  /**
   * Every message the server never acknowledged, oldest first: it may or may not have arrived
   * (written ones before `close()` do arrive on a healthy connection). Includes `unsent`.
   */
  unconfirmed: Out[];
  /** Named events (`emit()`) never acknowledged, oldest first; pending requests reject. */
  unconfirmedEvents: UnconfirmedEvent[];
  /** The newest of `unconfirmed` that were never written to a connection: they did not arrive. */
  unsent: Out[];
}

export interface ClientEvents<In, Out> {
  /** Every state change. */
  state: [state: ClientState];
  /** A session is open (new or resumed). */
  open: [info: OpenInfo];
  /** A message from the server: exactly once, in order, across reconnects. */
  message: [data: In];
  /** The session continued after a reconnect; replayed messages were re-sent. */
  resume: [info: ClientResumeInfo];
  /** The server could not resume the session; see {@link SessionLostInfo}. */
  'session-lost': [info: SessionLostInfo<Out>];
  /** Unacknowledged data fell back below `highWaterMarkBytes` after `send()` returned false. */
  drain: [];
  /** The connection was lost and a retry is scheduled. */
  disconnect: [info: DisconnectInfo];
  /**
   * The client stopped for good: `close()`, a final close code, `maxAttempts`, or sequence gaps
   * that keep recurring (more than 5 resyncs within 60 s).
   */
  close: [info: CloseInfo<Out>];
  /**
   * An exception from any event handler, a failing `auth` function, or a protocol error that
   * stopped the client. Without a listener it is logged with `console.error`.
   */
  error: [error: unknown];
}
