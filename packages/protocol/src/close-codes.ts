/**
 * Every close code Probe uses, in one table. Ranges decide what a client does next:
 * - 4000–4009 and the retryable standard codes: reconnect with backoff and resume;
 * - 4010–4499: the session is gone; start a fresh session (after `session-lost`) and retry;
 * - 4500–4999 and the final standard codes: stop, do not retry.
 */
export const CloseCode = {
  /** `client.close()`: the session is ended by the client. Final. */
  NORMAL: 1000,
  /** Endpoint is going away (browser tab closing). Retryable. */
  GOING_AWAY: 1001,
  /** A frame broke the protocol. Final: retrying would send the same bytes again. */
  PROTOCOL_ERROR: 1002,
  /** A text frame arrived. Final. */
  UNSUPPORTED_DATA: 1003,
  /** No close frame: the connection dropped. Retryable. Never sent on the wire. */
  ABNORMAL: 1006,
  /** A frame was not valid MessagePack. Final. */
  INVALID_PAYLOAD: 1007,
  /** Policy violation. Final. */
  POLICY_VIOLATION: 1008,
  /** A frame exceeded the receiver's size limit. Final. */
  MESSAGE_TOO_BIG: 1009,
  /** Unexpected server error. Retryable. */
  INTERNAL_ERROR: 1011,
  /** Server restarting. Retryable. */
  SERVICE_RESTART: 1012,
  /** Server overloaded. Retryable. */
  TRY_AGAIN_LATER: 1013,

  /** The server is shutting down gracefully; resume elsewhere or later. */
  SERVER_SHUTDOWN: 4000,
  /** A probe went unanswered, or the client heard nothing from the server in time. */
  PROBE_TIMEOUT: 4001,
  /** No HELLO within the handshake timeout. */
  HANDSHAKE_TIMEOUT: 4002,
  /** The connect attempt did not open in time (client side, never on the wire). */
  CONNECT_TIMEOUT: 4003,
  /**
   * A message went missing inside a live connection (a gap, a repeat or an impossible ack).
   * Retryable: the resume that follows replays what is missing.
   */
  RESYNC: 4004,
  /**
   * Shared store: the session moved to another node (or is moving). Retryable: the next
   * connection resumes it wherever it lands.
   */
  SESSION_MOVED: 4005,

  /** Resume refused: the server does not know this session. */
  SESSION_UNKNOWN: 4010,
  /** Resume refused: the session was suspended longer than its TTL and was dropped. */
  SESSION_EXPIRED: 4011,
  /** Resume refused: the session belonged to a server instance that no longer runs. */
  SERVER_RESTARTED: 4012,
  /** Resume refused: wrong resume token. The session itself is untouched. */
  TOKEN_INVALID: 4013,
  /**
   * Resume refused: the session ended (the reason names how: buffer overflow, closed by the
   * server, closed by a client). Start a fresh session.
   */
  SESSION_ENDED: 4014,
  /** The session's replay buffer passed its limit; the session was ended. */
  BUFFER_OVERFLOW: 4020,

  /** The server application ended the session (`session.close()`). Final. */
  SESSION_CLOSED: 4500,
  /** The client speaks a protocol major version the server does not. Final. */
  UNSUPPORTED_VERSION: 4501,
  /** Another connection resumed this session; this one is obsolete. Final. */
  SESSION_TAKEN_OVER: 4502,
  /** The `authenticate` hook rejected the client. Final. */
  UNAUTHORIZED: 4503,
  /** The Origin header is not allowed. Final. */
  FORBIDDEN_ORIGIN: 4504,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Standard codes after which retrying cannot help. */
const FINAL_STANDARD: readonly number[] = [1000, 1002, 1003, 1007, 1008, 1009, 1010];

/** True when a client should reconnect after a close with this code. */
export function isRetryableClose(code: number): boolean {
  return (code < 4500 || code > 4999) && !FINAL_STANDARD.includes(code);
}

/**
 * True when the close means the server no longer holds the session, so a reconnect must start
 * a fresh one instead of resuming (the client reports the unconfirmed messages as lost).
 */
export function endsSession(code: number): boolean {
  return code >= 4010 && code <= 4499;
}

/** Symbolic name of a close code (`'PROBE_TIMEOUT'`), or `'UNKNOWN'`. */
export function closeCodeName(code: number): string {
  return (
    Object.keys(CloseCode).find((name) => CloseCode[name as keyof typeof CloseCode] === code) ??
    'UNKNOWN'
  );
}
