/** How fast one session may send: `perSecond` on average, up to `burst` at once. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** 10 messages a second, 20 at once: more than anyone types, far less than a script sends. */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 10, burst: 20 };

/** @throws {RangeError} for a limit that would refuse everything or nothing sensible. */
export function checkRateLimit(limit: RateLimit): RateLimit {
  if (!(Number.isFinite(limit.perSecond) && limit.perSecond > 0)) {
    throw new RangeError(`rateLimit.perSecond must be a positive number, got ${limit.perSecond}`);
  }
  if (!(Number.isFinite(limit.burst) && limit.burst >= 1)) {
    throw new RangeError(`rateLimit.burst must be at least 1, got ${limit.burst}`);
  }
  return limit;
}

/** A token bucket: starts full, refills continuously, one token per message. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    /** A monotonic clock in ms, so wall-clock jumps neither block nor free anyone. */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes a token if there is one. */
  take(): boolean {
    const now = this.now();
    const refill = ((now - this.last) * this.limit.perSecond) / 1000;
    this.tokens = Math.min(this.limit.burst, this.tokens + refill);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
