import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Timed, TimerWheel } from './scheduler.js';

afterEach(() => {
  vi.useRealTimers();
});

function item(fired: number[], onFire?: (now: number) => void): Timed {
  return {
    wheelAt: 0,
    wheelSlot: -1,
    onWheelTimer(now) {
      fired.push(now);
      onFire?.(now);
    },
  };
}

describe('TimerWheel', () => {
  it('fires each item once, no earlier than due and at most one tick late', () => {
    vi.useFakeTimers();
    let clock = 0;
    const wheel = new TimerWheel(10, 16, () => clock);
    const fired: number[][] = [[], [], []];
    const dues = [25, 95, 1000]; // the last is several rotations (16 × 10 ms) ahead
    for (const [i, due] of dues.entries()) wheel.schedule(item(fired[i]!), due);
    for (let t = 0; t < 1100; t += 10) {
      clock = t + 10;
      vi.advanceTimersByTime(10);
    }
    dues.forEach((due, i) => {
      expect(fired[i]).toHaveLength(1);
      expect(fired[i]![0]).toBeGreaterThanOrEqual(due);
      expect(fired[i]![0]).toBeLessThanOrEqual(due + 10);
    });
  });

  it('holds one native timer whatever the number of items, and none when empty', () => {
    vi.useFakeTimers();
    let clock = 0;
    const wheel = new TimerWheel(10, 64, () => clock);
    expect(wheel.stats()).toMatchObject({ scheduled: 0, timers: 0 });
    const items = Array.from({ length: 10_000 }, () => item([]));
    for (const [i, it] of items.entries()) wheel.schedule(it, (i % 500) + 1);
    expect(wheel.stats()).toMatchObject({ scheduled: 10_000, timers: 1 });
    expect(vi.getTimerCount()).toBe(1);
    clock = 600;
    vi.advanceTimersByTime(600);
    expect(wheel.stats()).toMatchObject({ scheduled: 0, timers: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reschedules and cancels in place', () => {
    vi.useFakeTimers();
    let clock = 0;
    const wheel = new TimerWheel(10, 16, () => clock);
    const fired: number[] = [];
    const a = item(fired);
    wheel.schedule(a, 50);
    wheel.schedule(a, 200); // moves, does not duplicate
    expect(wheel.stats().scheduled).toBe(1);
    clock = 100;
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([]);
    wheel.cancel(a);
    clock = 300;
    vi.advanceTimersByTime(200);
    expect(fired).toEqual([]);
  });

  it('lets an item reschedule itself from its callback (a periodic probe)', () => {
    vi.useFakeTimers();
    let clock = 0;
    const wheel = new TimerWheel(10, 16, () => clock);
    const fired: number[] = [];
    const periodic: Timed = item(fired, (now) => wheel.schedule(periodic, now + 100));
    wheel.schedule(periodic, 100);
    for (let t = 0; t < 1000; t += 10) {
      clock = t + 10;
      vi.advanceTimersByTime(10);
    }
    expect(fired).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  });

  it('catches up after the event loop stalled for longer than a rotation', () => {
    vi.useFakeTimers();
    let clock = 0;
    const wheel = new TimerWheel(10, 8, () => clock);
    const fired: number[] = [];
    wheel.schedule(item(fired), 30);
    wheel.schedule(item(fired), 500);
    clock = 2000; // a 2 s stall: one tick sees it all
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([2000, 2000]);
  });
});
