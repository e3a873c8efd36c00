/** Something the {@link TimerWheel} can fire. The wheel owns the two bookkeeping fields. */
export interface Timed {
  /** @internal time (ms, wheel clock) at which to fire; meaningful while scheduled. */
  wheelAt: number;
  /** @internal slot index while scheduled, -1 otherwise. */
  wheelSlot: number;
  /** Called once when due; may reschedule itself. */
  onWheelTimer(now: number): void;
}

export interface SchedulerStats {
  /** Items waiting to fire (probes, probe deadlines, handshake deadlines, session expiries). */
  scheduled: number;
  /** Native timers the wheel holds: 1 while anything is scheduled, else 0. */
  timers: number;
  /** Resolution of the wheel. */
  tickMs: number;
}

/**
 * A hashed timing wheel: one interval timer drives any number of deadlines. Each item sits in
 * the slot of its due tick; an item due more than one rotation ahead stays in its slot and is
 * skipped until its round comes. Scheduling and cancelling are O(1), a tick costs the items in
 * one slot, and items fire at most one tick late.
 */
export class TimerWheel {
  private readonly slots: Set<Timed>[];
  private timer: ReturnType<typeof setInterval> | null = null;
  private cursor: number;
  private count = 0;

  constructor(
    readonly tickMs: number,
    slotCount = 512,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.slots = Array.from({ length: slotCount }, () => new Set<Timed>());
    this.cursor = Math.floor(this.now() / tickMs);
  }

  schedule(item: Timed, at: number): void {
    if (item.wheelSlot >= 0) this.cancel(item);
    if (!this.timer) this.start();
    const tick = Math.max(Math.ceil(at / this.tickMs), this.cursor + 1);
    const slot = tick % this.slots.length;
    item.wheelAt = at;
    item.wheelSlot = slot;
    this.slots[slot]?.add(item);
    this.count++;
  }

  cancel(item: Timed): void {
    if (item.wheelSlot < 0) return;
    this.slots[item.wheelSlot]?.delete(item);
    item.wheelSlot = -1;
    if (--this.count === 0) this.stop();
  }

  stats(): SchedulerStats {
    return { scheduled: this.count, timers: this.timer ? 1 : 0, tickMs: this.tickMs };
  }

  /** Cancels everything. */
  clear(): void {
    for (const slot of this.slots) {
      for (const item of slot) item.wheelSlot = -1;
      slot.clear();
    }
    this.count = 0;
    this.stop();
  }

  private start(): void {
    this.cursor = Math.floor(this.now() / this.tickMs);
    this.timer = setInterval(() => this.advance(), this.tickMs);
    // The wheel never keeps a process alive by itself; open sockets do that.
    this.timer.unref?.();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private advance(): void {
    const now = this.now();
    const target = Math.floor(now / this.tickMs);
    // After a long stall every slot is visited once; items check their own due time.
    const steps = Math.min(target - this.cursor, this.slots.length);
    const first = target - steps + 1;
    for (let tick = first; tick <= target; tick++) {
      this.cursor = tick;
      const slot = this.slots[tick % this.slots.length];
      if (!slot || slot.size === 0) continue;
      for (const item of slot) {
        if (item.wheelAt > now) continue;
        slot.delete(item);
        item.wheelSlot = -1;
        this.count--;
        item.onWheelTimer(now);
      }
    }
    this.cursor = target;
    if (this.count === 0) this.stop();
  }
}
