/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Polls `predicate` every `intervalMs` until it is true; rejects after `timeoutMs`.
 * Bounded in both time and number of checks.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  intervalMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const maxChecks = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let i = 0; i < maxChecks; i++) {
    if (await predicate()) return;
    if (performance.now() >= deadline) break;
    await sleep(intervalMs);
  }
  throw new Error(`timeout after ${timeoutMs} ms: ${what}`);
}

/** A promise with its resolve/reject exposed. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The machine's monotonic clock (CLOCK_MONOTONIC on Linux) in ms: one clock for every process
 * on the machine, so a timestamp taken in one process can be compared with `monoNow()` in
 * another, and never jumps with the wall clock.
 */
export function monoNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
