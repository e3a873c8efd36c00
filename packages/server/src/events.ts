/** Why a session stopped being `open` while it can still be resumed. */
export type SuspendReason =
  /** A probe went unanswered within `probeTimeoutMs` (dead or half-open path). */
  | 'probe-timeout'
  /** The connection dropped without a close frame (TCP reset, process killed). */
  | 'reset'
  /** The connection was closed cleanly without ending the session. */
  | 'closed'
  /** A transport error occurred on the socket. */
  | 'error';

/** Why a session ended for good. */
export type CloseReason =
  /** The client called `client.close()`. */
  | 'client-closed'
  /** The application called `session.close()`. */
  | 'server-closed'
  /** Suspended longer than `sessionTtlMs`. */
  | 'expired'
  /** The replay buffer passed `maxBufferedMessages` / `maxBufferedBytes`. */
  | 'buffer-overflow'
  /** The client broke the protocol; see the server's `'connection-error'` event. */
  | 'protocol-error'
  /** `server.close()` shut the server down. */
  | 'server-shutdown';

/** Reported by `'resume'`. */
export interface ResumeInfo {
  /** Messages the server re-sent to the client because the client had not received them. */
  replayedToClient: number;
  /** Messages the client is re-sending because the server had not received them. */
  replayedFromClient: number;
}

/** A connection refused or cut for misbehaving: the server's log entry for it. */
export interface ConnectionErrorInfo {
  /** Stable code, e.g. `'invalid-frame'`, `'unauthorized'`, `'handshake-timeout'`. */
  code: string;
  /** WebSocket close code sent to the peer. */
  closeCode: number;
  message: string;
  remoteAddress: string | undefined;
  sessionId: string | undefined;
}
