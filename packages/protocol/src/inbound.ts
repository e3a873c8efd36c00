import { ProtocolError } from './errors.js';

/** A receiver acknowledges at once after this many unacknowledged messages. */
export const ACK_EVERY_MESSAGES = 128;

/**
 * Receive side of one direction: accepts messages in sequence, drops replayed duplicates and
 * tracks what still needs acknowledging.
 */
export class InboundSequence {
  /** Highest sequence number received in order (0 before the first). */
  lastSeq = 0;
  /** Highest sequence number acknowledged to the peer. */
  #ackedSeq = 0;

  /**
   * Returns true for the next message in order, false for a duplicate already delivered.
   * @throws {ProtocolError} `sequence-gap` when messages were skipped: bytes were lost on a
   * live path, which a resume heals (the close code is retryable).
   */
  accept(seq: number): boolean {
    if (seq <= this.lastSeq) return false;
    if (seq !== this.lastSeq + 1) {
      throw new ProtocolError(
        'sequence-gap',
        `message ${seq} arrived, expected ${this.lastSeq + 1}`,
      );
    }
    this.lastSeq = seq;
    return true;
  }

  /** Messages received but not yet acknowledged. */
  get unacked(): number {
    return this.lastSeq - this.#ackedSeq;
  }

  /** True when so many messages wait for an ack that it should go out now, not on the timer. */
  get ackDue(): boolean {
    return this.unacked >= ACK_EVERY_MESSAGES;
  }

  /** The cumulative ack to send now, or null when the peer already has it. */
  takeAck(): number | null {
    if (this.lastSeq === this.#ackedSeq) return null;
    this.#ackedSeq = this.lastSeq;
    return this.lastSeq;
  }

  /** After a reconnect the peer may have missed the last ack: send it again. */
  forgetAck(): void {
    this.#ackedSeq = 0;
  }

  reset(): void {
    this.lastSeq = this.#ackedSeq = 0;
  }
}
