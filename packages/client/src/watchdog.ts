/**
 * Declares the server dead when nothing arrived for `boundMs`. One timer, re-armed only when it
 * fires: received frames just record the time, so the hot path costs a clock read. Elapsed time
 * is measured on the wall clock, so a laptop waking from sleep or a throttled background tab
 * notices at the first timer, visibility change or send.
 */
export class Watchdog {
  readonly #onSilence: (silentMs: number) => void;
  #lastHeard = 0;
  #boundMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(onSilence: (silentMs: number) => void) {
    this.#onSilence = onSilence;
  }

  /** (Re)starts with a new bound, counted from now. */
  start(boundMs: number): void {
    this.stop();
    this.#boundMs = boundMs;
    this.heard();
    this.#arm(boundMs);
  }

  /** Something arrived from the server. */
  heard(): void {
    this.#lastHeard = Date.now();
  }

  /**
   * Reports silence at once when the bound has passed (while started). The timer passes
   * `rearm` to wait out the rest of the bound otherwise.
   */
  check(rearm = false): void {
    if (this.#timer === undefined) return;
    const silent = Date.now() - this.#lastHeard;
    if (silent >= this.#boundMs) {
      this.stop();
      this.#onSilence(silent);
    } else if (rearm) {
      this.#arm(this.#boundMs - silent);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.check(true), Math.max(1, delayMs));
  }
}
