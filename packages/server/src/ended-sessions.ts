/**
 * Sessions that ended recently and why, so a late resume is told the precise reason (expired,
 * buffer overflow, closed by the server) rather than "unknown". Bounded: oldest forgotten first.
 * Only for sessions kept in this process; a shared store remembers ended sessions itself.
 */
export class EndedSessions {
  private readonly codes = new Map<string, number>();

  constructor(private readonly limit = 10_000) {}

  add(id: string, closeCode: number): void {
    this.codes.set(id, closeCode);
    if (this.codes.size > this.limit) {
      const oldest = this.codes.keys().next().value;
      if (oldest !== undefined) this.codes.delete(oldest);
    }
  }

  /** The close code the session ended with, if it ended recently. */
  get(id: string): number | undefined {
    return this.codes.get(id);
  }
}
