import { randomId } from './random-id.js';

/**
 * What a tab keeps across a reload, in `sessionStorage` (per tab, gone with the tab): the
 * session's recovery key, the nickname it was opened with, and the tab's secret author key.
 * Storage can be unavailable (some private modes throw): the chat then works without.
 */

/** `client.recoveryKey()` of the page that was just unloaded; read (and removed) once. */
export const RECOVERY_KEY = 'probe-chat:recovery';
const NICK_KEY = 'probe-chat:tab-nick';
const AUTHOR_KEY = 'probe-chat:author-key';

function read(name: string): string | null {
  try {
    return sessionStorage.getItem(name);
  } catch {
    return null;
  }
}

function write(name: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(name);
    else sessionStorage.setItem(name, value);
  } catch {}
}

/**
 * The recovery key the previous page of this tab left, with the nickname that session has;
 * removed as it is read, so a key is used once.
 */
export function takeRecovery(): { key: string; nick: string } | null {
  const key = read(RECOVERY_KEY);
  const nick = read(NICK_KEY);
  write(RECOVERY_KEY, null);
  return key !== null && nick !== null ? { key, nick } : null;
}

/** Keeps the key for the next page of this tab (it resumes the session: a secret). */
export function saveRecovery(key: string): void {
  write(RECOVERY_KEY, key);
}

/** The page came back from the back/forward cache: it goes on with its own client. */
export function dropRecovery(): void {
  write(RECOVERY_KEY, null);
}

/** Remembers the nickname this tab's session was opened with. */
export function rememberNick(nick: string): void {
  write(NICK_KEY, nick);
}

/**
 * The tab's secret author key, the same across reloads: the server recognises a re-sent
 * message by it, also when the session could not be recovered and a new one re-sends.
 */
export function authorKey(): string {
  const kept = read(AUTHOR_KEY);
  if (kept !== null) return kept;
  const key = randomId();
  write(AUTHOR_KEY, key);
  return key;
}
