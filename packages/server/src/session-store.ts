/**
 * Where sessions are looked up by id when a client resumes. The in-memory default is all a
 * single process needs. The interface is async so that a shared store (Redis, a database) can
 * implement it; see docs/session-store.md for what such a store must hold to let a client
 * resume on another server process.
 */
export interface SessionStore<S> {
  get(id: string): S | undefined | Promise<S | undefined>;
  set(id: string, session: S): void | Promise<void>;
  delete(id: string): void | Promise<void>;
  /** Sessions held (open and suspended). */
  readonly size: number;
  /** Every session held, for broadcast and shutdown. */
  values(): Iterable<S>;
}

export class MemorySessionStore<S> implements SessionStore<S> {
  private readonly map = new Map<string, S>();

  get(id: string): S | undefined {
    return this.map.get(id);
  }

  set(id: string, session: S): void {
    this.map.set(id, session);
  }

  delete(id: string): void {
    this.map.delete(id);
  }

  get size(): number {
    return this.map.size;
  }

  values(): Iterable<S> {
    return this.map.values();
  }
}

/**
 * Sessions that ended recently and why, so a late resume is told the precise reason (expired,
 * buffer overflow, closed by the server) rather than "unknown". Bounded: oldest forgotten first.
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
