/** Something that owes its peer an acknowledgement. */
export interface Acknowledging {
  flushAck(): void;
}

/**
 * Coalesces acknowledgements of many sessions behind one timer: a session that received
 * messages joins the set, and one flush every `delayMs` answers them all.
 */
export class AckBatcher {
  private pending = new Set<Acknowledging>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly delayMs: number) {}

  add(item: Acknowledging): void {
    this.pending.add(item);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.delayMs);
      this.timer.unref?.();
    }
  }

  delete(item: Acknowledging): void {
    this.pending.delete(item);
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const items = this.pending;
    this.pending = new Set();
    for (const item of items) item.flushAck();
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
  }
}
