/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitForOptions {
  /** Give up after this long. Default 5000. */
  readonly timeoutMs?: number;
  /** Pause between two checks. Default 10. */
  readonly intervalMs?: number;
  /** Names what was awaited in the timeout error. */
  readonly message?: string;
}

/**
 * Polls `predicate` until it returns a truthy value and resolves with that value. A predicate
 * that throws counts as "not yet", so an `expect(...)` inside works; its last error is
 * attached as the cause of the timeout error.
 * @throws {Error} after `timeoutMs`, or after the matching number of checks, whichever is first.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 5000, intervalMs = 10, message = 'condition' } = options;
  const deadline = performance.now() + timeoutMs;
  // The count bound guards against a clock that does not advance as expected (fake timers).
  const maxChecks = Math.ceil(timeoutMs / Math.max(1, intervalMs)) + 1;
  let lastError: unknown;
  for (let check = 0; check < maxChecks; check++) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`waitFor: ${message} not met within ${timeoutMs} ms`, { cause: lastError });
}

/** Anything with `on`/`off`: Node's EventEmitter, eventemitter3, `ws` sockets. */
export interface EventSource {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Resolves with the arguments of the next `event` emitted by `emitter`.
 * @throws {Error} naming the event when it does not come within `timeoutMs` (default 5000).
 */
export function once<Args extends unknown[] = unknown[]>(
  emitter: EventSource,
  event: string,
  timeoutMs = 5000,
): Promise<Args> {
  return new Promise<Args>((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as Args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`once: no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
