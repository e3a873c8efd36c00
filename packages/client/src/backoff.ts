import { RECONNECT_DEFAULTS } from './options.js';

export interface BackoffOptions {
  /** Upper bound of the first retry's delay, in ms. @default 250 */
  initialDelayMs: number;
  /** No retry waits longer than this, in ms. @default 10000 */
  maxDelayMs: number;
  /** Growth of the bound per failed attempt. @default 2 */
  factor: number;
}

/**
 * "Full jitter" backoff (Marc Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog,
 * 2015): `delay = random() × min(maxDelay, initialDelay × factor^(attempt−1))`. Drawing the
 * whole delay at random spreads a crowd of clients that lost the same server, so they do not
 * come back in waves.
 *
 * @param attempt 1 for the first retry after a failure.
 * @param random a fresh draw in [0, 1) for every call.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = RECONNECT_DEFAULTS,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const bound = Math.min(options.maxDelayMs, options.initialDelayMs * options.factor ** exponent);
  return Math.floor(random() * bound);
}
