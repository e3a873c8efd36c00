/** Stable error codes of {@link ProtocolError}, each mapped to the WebSocket close code to use. */
export const ProtocolErrorCodes = {
  /** A text WebSocket message; Probe speaks binary only. */
  'text-frame': 1003,
  /**
   * A MessagePack extension type (timestamp, or msgpackr's BigInt, RegExp, Error, Set…): frames
   * carry plain data only, so nothing the decoder builds can be costly or surprising to use.
   */
  'unsupported-type': 1003,
  /** The bytes are not one complete MessagePack value. */
  malformed: 1007,
  /** One MessagePack value followed by more bytes. */
  'trailing-bytes': 1007,
  /** The frame is larger than the receiver accepts. */
  'too-large': 1009,
  /** A MessagePack array whose first element is not a known frame type. */
  'unknown-frame-type': 1002,
  /** A known frame type with missing, extra or wrongly typed fields. */
  'invalid-frame': 1002,
  /** A well-formed frame not allowed at this point of the conversation or in this direction. */
  'unexpected-frame': 1002,
  /** A message or ack sequence number that does not follow what came before. */
  'bad-sequence': 1002,
  /**
   * A gap, a repeat or an impossible ack on a live connection: bytes were lost on the path
   * (a blackhole restored before it was detected). Resuming heals it, so the code is retryable.
   */
  'sequence-gap': 4004,
} as const;

export type ProtocolErrorCode = keyof typeof ProtocolErrorCodes;

/**
 * The only error {@link decode} throws. `code` is stable and safe to switch on; `closeCode`
 * is the WebSocket close code the receiver should close the connection with.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  readonly closeCode: number;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.closeCode = ProtocolErrorCodes[code];
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}
