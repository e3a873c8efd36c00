export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

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
   */
  unconfirmed: Out[];
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
  /** Messages that were never written to a connection before the client closed. */
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
  /** The client stopped for good (`close()`, a final close code, or `maxAttempts`). */
  close: [info: CloseInfo<Out>];
  /** An exception from an event handler, a failing `auth` function, or a protocol error. */
  error: [error: unknown];
}
