/**
 * Declares the server dead when nothing arrived for `boundMs`. One timer, re-armed only when it
 * fires: received frames just record the time, so the hot path costs a clock read. Elapsed time
 * is measured on the wall clock, so a laptop waking from sleep or a throttled background tab
 * notices at the first timer, visibility change or send.
 */
export class Watchdog {
  private lastHeard = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private boundMs = 0;

  constructor(
    private readonly onSilence: (silentMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(boundMs: number): void {
    this.boundMs = boundMs;
    this.lastHeard = this.now();
    this.arm(boundMs);
  }

  /** Something arrived from the server. */
  heard(): void {
    this.lastHeard = this.now();
  }

  /** Checks at once; returns false (and reports silence) when the bound has passed. */
  check(): boolean {
    if (this.timer === null) return true;
    const silent = this.now() - this.lastHeard;
    if (silent < this.boundMs) return true;
    this.stop();
    this.onSilence(silent);
    return false;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => this.fire(), Math.max(1, delayMs));
  }

  private fire(): void {
    const silent = this.now() - this.lastHeard;
    if (silent >= this.boundMs) {
      this.timer = null;
      this.onSilence(silent);
    } else {
      this.arm(this.boundMs - silent);
    }
  }
}
