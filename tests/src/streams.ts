import type { ProbeClient } from '@probe/client';
import type { Session } from '@probe/server';

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

/** Both directions of one client ↔ session pair. */
export class Duplex {
  readonly up = new NumberedStream();
  readonly down = new NumberedStream();
  session: Session | undefined;

  constructor(readonly client: ProbeClient) {
    client.on('message', (m) => this.down.receive(m));
  }

  bind(session: Session): void {
    this.session = session;
    session.on('message', (m) => this.up.receive(m));
  }

  /** Sends `count` messages each way. The session may be suspended: it buffers. */
  pump(count: number): void {
    for (let i = 0; i < count; i++) {
      this.client.send(this.up.next());
      this.session?.send(this.down.next());
    }
  }

  get complete(): boolean {
    return this.up.complete && this.down.complete;
  }
}
