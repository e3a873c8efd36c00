import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits, base64url: unguessable session ids and resume tokens. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Tokens are kept hashed, so a memory dump or a shared store never holds a usable secret.
 * The digest is kept as a base64 string: a Buffer per session would cost its own ArrayBuffer.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}

/** Constant-time: digests have a fixed length, so neither length nor content leaks timing. */
export function tokenMatches(token: string, hash: string | null): boolean {
  if (hash === null) return false;
  return timingSafeEqual(Buffer.from(hashToken(token), 'base64'), Buffer.from(hash, 'base64'));
}
