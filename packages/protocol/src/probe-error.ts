/** Stable codes of {@link ProbeError}: misuse of the SDK's API, as opposed to bad wire data. */
export type ProbeErrorCode =
  | 'invalid-option'
  /** `send()` was given a value MessagePack cannot encode (a function, a symbol, a huge BigInt). */
  | 'unencodable'
  | 'queue-full'
  /** `send()` of a message larger than the server accepts (`maxPayloadBytes`). */
  | 'too-large'
  /** An API called with an impossible argument (a close code or reason, say). */
  | 'invalid-argument'
  | 'session-closed'
  | 'client-closed'
  /** A request got no reply within its `timeoutMs`. */
  | 'timeout'
  /** The session a request waited in was lost (the server could not resume it). */
  | 'session-lost';

/** Thrown by server and client APIs; `code` is stable and safe to switch on. */
export class ProbeError extends Error {
  override readonly name = 'ProbeError';
  readonly code: ProbeErrorCode;

  constructor(code: ProbeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
