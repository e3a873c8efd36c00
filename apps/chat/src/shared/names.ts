/**
 * Names people see and compare: nicknames and room names. Invisible and direction-changing
 * characters let one name pass for another ("ada" and "ada" + U+200B look the same; U+202E
 * shows text backwards), and control characters garble the page, so they are removed.
 */

export const MAX_NICK_LENGTH = 24;
export const MAX_ROOM_LENGTH = 32;
/**
 * Longer raw input is refused rather than cleaned: no honest name is that long, and it bounds
 * the work done on untrusted strings.
 */
export const MAX_RAW_NAME_LENGTH = 256;

// \p{Cf} holds the bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F) and the zero-width
// characters (U+200B–U+200D, U+2060, U+FEFF); \p{Cc} the C0/C1 controls. Default ignorables
// add other invisibles (Hangul fillers, U+034F); Zl/Zp break lines; Co and Cs (private use, lone
// surrogates) render as nothing or as boxes. Listed explicitly too, so the intent is plain.
const INVISIBLE =
  /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u200B-\u200D\u2060\uFEFF\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/**
 * A name as it may be shown: invisible and control characters removed, NFC, runs of any kind
 * of space turned into one space, trimmed, at most `maxLength` code points. May be empty.
 */
export function cleanName(value: string, maxLength: number): string {
  // NFC after the removal: a stripped character may have sat between a letter and its accent.
  const name = value.replace(INVISIBLE, '').normalize('NFC').replace(/\s+/gu, ' ').trim();
  return [...name].slice(0, maxLength).join('').trim();
}

/**
 * Cleans a nickname with {@link cleanName}.
 * @throws {Error} when it is not a string, is absurdly long, or nothing visible is left; the
 *   server refuses the session with its message.
 */
export function cleanNick(value: unknown): string {
  if (typeof value !== 'string') throw new Error('a nickname is required');
  if (value.length > MAX_RAW_NAME_LENGTH) throw new Error('the nickname is too long');
  const nick = cleanName(value, MAX_NICK_LENGTH);
  if (nick.length === 0) throw new Error('a nickname is required');
  return nick;
}

/** What an untrusted value is, briefly, for an error message (never the value itself). */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
