import { MAX_REASON_LENGTH, utf8Length } from './validate.js';

/**
 * Shortens a close reason to what both a WebSocket close frame and a GOODBYE frame carry:
 * 123 UTF-8 bytes. It cuts between characters, never inside one (a surrogate pair stays whole).
 * @example clampReason('é'.repeat(100)) // 61 × 'é': 122 bytes, as a 62nd would make 124
 */
export function clampReason(reason: string): string {
  // Each UTF-16 unit is at least one byte, so a longer string never fits.
  if (reason.length <= MAX_REASON_LENGTH && utf8Length(reason) <= MAX_REASON_LENGTH) return reason;
  let bytes = 0;
  let end = 0;
  // Walk whole code points; `end` is where the last one that still fits ends.
  for (const char of reason) {
    bytes += utf8Length(char);
    if (bytes > MAX_REASON_LENGTH) break;
    end += char.length;
  }
  return reason.slice(0, end);
}
