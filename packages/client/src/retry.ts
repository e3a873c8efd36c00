import { CloseCode, WindowCounter } from '@probe/protocol';
import { backoffDelay } from './backoff.js';
import type { ReconnectOptions } from './options.js';

/**
 * A sequence gap on a live connection is healed by a resume; a peer that keeps causing them is
 * broken, so after this many resyncs within {@link RESYNC_WINDOW_MS} the client stops.
 */
const MAX_RESYNCS = 5;
const RESYNC_WINDOW_MS = 60_000;

/**
 * When to retry after a connection or an attempt ended with a retryable close code, and when to
 * give up (docs/liveness.md, "Reconnect", states the policy).
 */
export class RetryPolicy {
  /** Consecutive failed attempts: 1 for the first retry after a failure. */
  attempt = 0;
  /** When the welcomed connection will have proven itself; 0 while there is none. */
  #provenAt = 0;
  readonly #resyncs = new WindowCounter(MAX_RESYNCS, RESYNC_WINDOW_MS);
  readonly #options: ReconnectOptions;
  readonly #random: () => number;

  constructor(options: ReconnectOptions, random: () => number) {
    this.#options = options;
    this.#random = random;
  }

  /** A new run of attempts (`connect()`). */
  reset(): void {
    this.attempt = this.#provenAt = 0;
  }

  /**
   * A connection was welcomed. It resets the attempt counter once it stayed up `settleMs` after
   * resuming the session, or `minUptimeMs` after opening a new one: a server that welcomes new
   * sessions and drops them at once is not hammered, a path healthy again after a storm of
   * faults is back to short delays quickly.
   */
  welcomed(resumed: boolean): void {
    const { settleMs, minUptimeMs } = this.#options;
    this.#provenAt = Date.now() + (resumed ? settleMs : minUptimeMs);
  }

  /**
   * The connection (or the attempt) ended with retryable `code`.
   * @returns the delay before the next attempt in ms, or why to give up instead.
   */
  next(code: number): number | string {
    const now = Date.now();
    // Only a welcomed connection can prove itself; a failed attempt cannot.
    if (this.#provenAt && now >= this.#provenAt) this.attempt = 0;
    this.#provenAt = 0;
    if (code === CloseCode.RESYNC && !this.#resyncs.hit(now)) {
      return `gave up after ${MAX_RESYNCS} resyncs within 60 s`;
    }
    const { maxAttempts } = this.#options;
    if (++this.attempt > maxAttempts) return `gave up after ${maxAttempts} attempts`;
    return backoffDelay(this.attempt, this.#options, this.#random);
  }
}
