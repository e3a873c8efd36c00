import { ProbeError } from '@probe/protocol';

/**
 * What a client needs to take its session up again in a new page or process: the session, its
 * resume token, how far it received, and every message the server has not acknowledged (as
 * the encoded frames, replayed under their own sequence numbers, so none arrives twice).
 */
export interface RecoveryState {
  sessionId: string;
  token: string;
  /** Highest server→client sequence number received. */
  lastSeq: number;
  /** Highest client→server sequence number the server acknowledged. */
  ackedSeq: number;
  /** Highest client→server sequence number written to a connection. */
  writtenSeq: number;
  /** Unacknowledged client→server frames, oldest first (seq ackedSeq + 1 onwards). */
  frames: Uint8Array[];
}

const VERSION = 1;

const toBase64 = (bytes: Uint8Array) => {
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] as number);
  return btoa(binary);
};

const fromBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** The recovery key: a string to keep as a secret (it holds the session's resume token). */
export function encodeRecovery(state: RecoveryState): string {
  const { sessionId, token, lastSeq, ackedSeq, writtenSeq, frames } = state;
  return JSON.stringify([
    VERSION,
    sessionId,
    token,
    lastSeq,
    ackedSeq,
    writtenSeq,
    frames.map(toBase64),
  ]);
}

const isSeq = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** @throws {ProbeError} `invalid-option` when `key` is not a recovery key of this version. */
export function decodeRecovery(key: string): RecoveryState {
  let value: unknown;
  try {
    value = JSON.parse(key);
  } catch {
    value = null;
  }
  const [version, sessionId, token, lastSeq, ackedSeq, writtenSeq, frames] = Array.isArray(value)
    ? value
    : [];
  if (
    version !== VERSION ||
    typeof sessionId !== 'string' ||
    typeof token !== 'string' ||
    !isSeq(lastSeq) ||
    !isSeq(ackedSeq) ||
    !isSeq(writtenSeq) ||
    !Array.isArray(frames) ||
    !frames.every((f) => typeof f === 'string') ||
    writtenSeq > ackedSeq + frames.length
  ) {
    throw new ProbeError('invalid-option', 'recover: not a recovery key from recoveryKey()');
  }
  try {
    return { sessionId, token, lastSeq, ackedSeq, writtenSeq, frames: frames.map(fromBase64) };
  } catch {
    throw new ProbeError('invalid-option', 'recover: the recovery key is damaged');
  }
}
