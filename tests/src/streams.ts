import type { ProbeClient, UntypedSchema } from '@probe/client';
import type { Session } from '@probe/server';

type AnyClient = ProbeClient<unknown, unknown, UntypedSchema>;
type AnySession = Session<unknown, unknown, unknown, UntypedSchema>;
/** Long enough to wait through any fault the suites inject; a timeout is a failure. */
const REQUEST_TIMEOUT_MS = 120_000;

/** Numbered messages in one direction, checked for loss, duplication and reordering. */
export class NumberedStream {
  sent = 0;
  readonly received: number[] = [];

  next(): { n: number } {
    this.sent++;
    return { n: this.sent };
  }

  receive(message: unknown): void {
    this.received.push((message as { n: number }).n);
  }

  /** Counts of lost, duplicated and out-of-order messages (all zero when delivery is exact). */
  verdict(): {
    sent: number;
    received: number;
    lost: number;
    duplicated: number;
    reordered: number;
  } {
    const seen = new Set<number>();
    let duplicated = 0;
    let reordered = 0;
    let previous = 0;
    for (const n of this.received) {
      if (seen.has(n)) duplicated++;
      seen.add(n);
      if (n < previous) reordered++;
      previous = Math.max(previous, n);
    }
    let lost = 0;
    for (let n = 1; n <= this.sent; n++) if (!seen.has(n)) lost++;
    return { sent: this.sent, received: this.received.length, lost, duplicated, reordered };
  }

  get complete(): boolean {
    return this.received.length >= this.sent;
  }
}

/**
 * Numbered requests one way, checked: each answered exactly once with its own number, and its
 * handler run exactly once.
 */
export class RequestStream {
  sent = 0;
  readonly #answers = new Map<number, number>();
  readonly #runs = new Map<number, number>();
  readonly #failures: string[] = [];

  /** The answering side's handler. */
  readonly handler = (payload: unknown): { r: number } => {
    const { r } = payload as { r: number };
    this.#runs.set(r, (this.#runs.get(r) ?? 0) + 1);
    return { r };
  };

  send(request: (payload: { r: number }) => Promise<unknown>): void {
    const r = ++this.sent;
    request({ r }).then(
      (reply) => {
        if ((reply as { r?: unknown } | null)?.r !== r) {
          this.#failures.push(`request ${r} answered ${JSON.stringify(reply)}`);
        }
        this.#answers.set(r, (this.#answers.get(r) ?? 0) + 1);
      },
      (error: unknown) => this.#failures.push(`request ${r}: ${String(error)}`),
    );
  }

  verdict(): { sent: number; answered: number; ranTwice: number; notRun: number; failed: number } {
    let ranTwice = 0;
    let notRun = 0;
    for (let r = 1; r <= this.sent; r++) {
      const runs = this.#runs.get(r) ?? 0;
      if (runs > 1) ranTwice++;
      if (runs === 0) notRun++;
    }
    return {
      sent: this.sent,
      answered: this.#answers.size,
      ranTwice,
      notRun,
      failed: this.#failures.length,
    };
  }

  /** The first few failures, for a report. */
  get failures(): string[] {
    return this.#failures.slice(0, 3);
  }

  get complete(): boolean {
    return this.#answers.size + this.#failures.length >= this.sent;
  }
}

/**
 * Both directions of one client ↔ session pair. With `mixed`, every third message goes as a
 * named event and every fifth round also sends a request each way, all in the one sequence.
 */
export class Duplex {
  readonly up = new NumberedStream();
  readonly down = new NumberedStream();
  readonly upCalls = new RequestStream();
  readonly downCalls = new RequestStream();
  session: Session | undefined;
  readonly #client: AnyClient;
  #rounds = 0;

  constructor(
    readonly client: ProbeClient,
    readonly mixed = false,
  ) {
    this.#client = client as unknown as AnyClient;
    client.on('message', (m) => this.down.receive(m));
    if (mixed) {
      this.#client.on('n', (m) => this.down.receive(m));
      this.#client.handle('r', this.downCalls.handler);
    }
  }

  bind(session: Session): void {
    this.session = session;
    session.on('message', (m) => this.up.receive(m));
    if (this.mixed) {
      const any = session as unknown as AnySession;
      any.on('n', (m) => this.up.receive(m));
      any.handle('r', this.upCalls.handler);
    }
  }

  /** Sends `count` messages each way. The session may be suspended: it buffers. */
  pump(count: number): void {
    const session = this.session as AnySession | undefined;
    for (let i = 0; i < count; i++) {
      const up = this.up.next();
      const down = this.down.next();
      if (this.mixed && up.n % 3 === 0) {
        this.#client.emit('n', up);
        session?.emit('n', down);
      } else {
        this.client.send(up);
        session?.send(down);
      }
      if (this.mixed && ++this.#rounds % 5 === 0) {
        const timeoutMs = REQUEST_TIMEOUT_MS;
        this.upCalls.send((p) => this.#client.emitWithAck('r', p, { timeoutMs }));
        if (session) this.downCalls.send((p) => session.emitWithAck('r', p, { timeoutMs }));
      }
    }
  }

  get complete(): boolean {
    return (
      this.up.complete && this.down.complete && this.upCalls.complete && this.downCalls.complete
    );
  }
}
