/** Why a session stopped being `open` while it can still be resumed. */
export type SuspendReason =
  /** A probe went unanswered within `probeTimeoutMs` (dead or half-open path). */
  | 'probe-timeout'
  /** The connection dropped without a close frame (TCP reset, process killed). */
  | 'reset'
  /** The connection was closed cleanly without ending the session. */
  | 'closed'
  /** A transport error occurred on the socket. */
  | 'error'
  /**
   * A message went missing inside the connection (a gap in sequence numbers): the server
   * closed it with 4004 `RESYNC` so the client resumes and the missing messages are replayed.
   */
  | 'resync';

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
  /** `server.close({ endSessions: true })`, or `server.close()` without a shared store. */
  | 'server-shutdown'
  /** `authorizeResume` refused a resume, or `server.endSessions()` ended it. */
  | 'revoked'
  /**
   * Shared store only: the session left this node and lives on. Another node took it over
   * (the client resumed there), or this node handed it over on `server.close()`.
   */
  | 'moved'
  /**
   * Shared store only: the store could not be reached, so this node stopped serving the
   * session. It lives on in the store and resumes once the store is back.
   */
  | 'store-unavailable';

/** Reported with every `'message'`. */
export interface MessageInfo {
  /** The message's sequence number in the client→server direction (1, 2, 3, …). */
  seq: number;
  /**
   * True when another node may already have handed this message to the application: that
   * node died (or was cut off from the store) after delivering it and before storing the
   * fact. Only a shared store can set it; skip or de-duplicate such a message if it matters.
   */
  redelivered: boolean;
}

/** Reported with `'session'`. */
export interface SessionInfo {
  /**
   * False for a new session. True when an existing session moved here from another node (its
   * client resumed on this node); `'resume'` follows.
   */
  moved: boolean;
}

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
