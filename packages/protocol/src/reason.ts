import { MAX_REASON_LENGTH } from './validate.js';

const encoder = new TextEncoder();

/**
 * Shortens a close reason to what a WebSocket close frame can carry (123 UTF-8 bytes) and a
 * GOODBYE frame accepts (123 characters), without splitting a character.
 */
export function clampReason(reason: string): string {
  if (reason.length <= MAX_REASON_LENGTH / 4) return reason;
  let out = reason.slice(0, MAX_REASON_LENGTH);
  while (encoder.encode(out).length > MAX_REASON_LENGTH) out = [...out].slice(0, -1).join('');
  return out;
}
