import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 random bits, base64url: unguessable session ids and resume tokens. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Tokens are kept hashed, so a memory dump or a shared store never holds a usable secret. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Constant-time: digests have a fixed length, so neither length nor content leaks timing. */
export function tokenMatches(token: string, hash: Buffer | null): boolean {
  return hash !== null && timingSafeEqual(hashToken(token), hash);
}
