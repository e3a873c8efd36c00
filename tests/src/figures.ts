// Shared by the reliability suites (chaos, storm, soak, hostile-scale): tunables from the
// environment, the one-line JSON summary each suite prints, and process resource readings.

import { readdirSync } from 'node:fs';
import { sleep } from '@probe/testkit';

/** A positive integer from the environment, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * Prints the suite's figures as one JSON line, prefixed so it is easy to grep out of a test
 * run: `[reliability] {"suite":"chaos",…}`.
 */
export function printSummary(suite: string, figures: Record<string, unknown>): void {
  console.log(`[reliability] ${JSON.stringify({ suite, ...figures })}`);
}

/** Prints `rows` as a two-column table under `title`. */
export function printTable(title: string, rows: ReadonlyArray<readonly [string, unknown]>): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  const text = (value: unknown) =>
    typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${text(value)}`);
  console.log([title, ...lines].join('\n'));
}

export function round(value: number): number {
  return Math.round(value);
}

/** Median and maximum, rounded; zeros for an empty list. */
export function spread(values: readonly number[]): { median: number; max: number; count: number } {
  if (values.length === 0) return { median: 0, max: 0, count: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median: round(median), max: round(sorted.at(-1)!), count: sorted.length };
}

/** Open file descriptors of this process (Linux), or undefined where /proc is missing. */
export function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

type Gc = () => void;

/** The `gc` function when Node runs with --expose-gc (the tests project sets it). */
export function exposedGc(): Gc | undefined {
  return (globalThis as { gc?: Gc }).gc;
}

/**
 * heapUsed after full collections. Several rounds with a pause between them, so objects freed
 * by finalizers and socket close callbacks in one round are collected in the next.
 */
export async function settledHeapUsed(gc: Gc): Promise<number> {
  let heap = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    gc();
    await sleep(50);
    heap = Math.min(heap, process.memoryUsage().heapUsed);
  }
  return heap;
}

/** Runs `task(i)` for i in [0, count), at most `batch` at a time, batch after batch. */
export async function inBatches<T>(
  count: number,
  batch: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const indexes = Array.from({ length: end - start }, (_, k) => start + k);
    results.push(...(await Promise.all(indexes.map(task))));
  }
  return results;
}
