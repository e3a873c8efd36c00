import { createHash, randomBytes } from 'node:crypto';
import { cleanNick } from '../shared/names.js';
import { isAuthorKey } from '../shared/validate.js';

/** What `authenticate` gives each session: the member's public identity. */
export interface ChatUser {
  /** Public id shown to others; the session id is never sent to other clients. */
  readonly id: string;
  readonly nick: string;
  /**
   * Private: who writes this session's messages, for recognising re-sends. Derived from the
   * tab's secret key when it sent one (so it outlives a lost session), else random. Never sent.
   */
  readonly author: string;
}

/**
 * Accepts any nickname (cleaned) and an optional secret key; refuses a session without a
 * nickname or with a malformed key.
 */
export function authenticateChat(auth: unknown): ChatUser {
  const fields = (typeof auth === 'object' && auth !== null ? auth : {}) as {
    nick?: unknown;
    key?: unknown;
  };
  const nick = cleanNick(fields.nick);
  return { id: randomBytes(6).toString('base64url'), nick, author: authorOf(fields.key) };
}

function authorOf(key: unknown): string {
  if (key === undefined) return randomBytes(16).toString('base64url');
  if (!isAuthorKey(key)) throw new Error('the key must be 16–128 letters, digits, _ or -');
  // Hashed so that the secret itself is not kept around.
  return createHash('sha256').update(key).digest('base64url');
}
