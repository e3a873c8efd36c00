import { ProtocolError } from './errors.js';

/**
 * Outbound messages kept until the peer acknowledges them, so they can be re-sent after a
 * reconnect. Sequence numbers are implicit: the frame at the head has `firstSeq`, the next
 * one `firstSeq + 1`, and so on, so the buffer costs one array slot per message.
 */
export class ReplayBuffer {
  #frames: (Uint8Array | undefined)[] = [];
  #head = 0;
  /** Sequence number of the oldest unacknowledged frame (or of the next frame when empty). */
  #firstSeq = 1;
  /** Total bytes of the buffered frames. */
  bytes = 0;

  /** Number of buffered (unacknowledged) frames. */
  get size(): number {
    return this.#frames.length - this.#head;
  }

  /** Sequence number the next pushed frame must carry. */
  get nextSeq(): number {
    return this.#firstSeq + this.size;
  }

  /** Highest sequence number handed out so far (0 before the first). */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /** Appends the frame encoded for {@link nextSeq}. */
  push(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.bytes += frame.length;
  }

  /**
   * Drops every frame up to and including `seq`. Returns how many were dropped.
   * @throws {ProtocolError} `sequence-gap` when `seq` acknowledges a message never sent.
   */
  ack(seq: number): number {
    if (seq > this.lastSeq) {
      throw new ProtocolError(
        'sequence-gap',
        `ack ${seq} is beyond the last message sent (${this.lastSeq})`,
      );
    }
    const frames = this.#frames;
    let dropped = 0;
    while (this.#firstSeq <= seq && this.#head < frames.length) {
      this.bytes -= frames[this.#head]?.length ?? 0;
      frames[this.#head++] = undefined;
      this.#firstSeq++;
      dropped++;
    }
    // Compact once the consumed prefix dominates, keeping ack amortised O(1).
    if (this.#head > 1024 && this.#head * 2 > frames.length) {
      this.#frames = frames.slice(this.#head);
      this.#head = 0;
    }
    return dropped;
  }

  /** The buffered frames with a sequence number above `seq`, oldest first. */
  since(seq: number): Uint8Array[] {
    const start = this.#head + Math.max(0, seq + 1 - this.#firstSeq);
    return this.#frames.slice(start) as Uint8Array[];
  }

  /**
   * Replaces the contents with `frames`, the first of which carries `afterSeq + 1`: a session
   * loaded from a shared store, whose peer acknowledged everything up to `afterSeq`.
   */
  restore(afterSeq: number, frames: readonly Uint8Array[]): void {
    this.#frames = [...frames];
    this.#head = 0;
    this.#firstSeq = afterSeq + 1;
    this.bytes = 0;
    for (const frame of frames) this.bytes += frame.length;
  }

  /** Removes and returns every buffered frame, and restarts numbering at 1. */
  reset(): Uint8Array[] {
    const rest = this.since(0);
    this.#frames = [];
    this.#head = 0;
    this.#firstSeq = 1;
    this.bytes = 0;
    return rest;
  }
}
