import { ProtocolError } from './errors.js';
import { InboundSequence } from './inbound.js';
import { ReplayBuffer } from './replay-buffer.js';

/** Limits of one side's unacknowledged outbound messages. */
export interface DeliveryLimits {
  /** Unacknowledged messages kept for replay. */
  readonly maxMessages: number;
  /** Unacknowledged bytes kept for replay. */
  readonly maxBytes: number;
  /** Above this many unacknowledged bytes the sender is asked to wait for `drain`. */
  readonly highWaterMarkBytes: number;
}

/**
 * The exactly-once core both peers run, whatever carries their frames: numbered outbound
 * messages kept until acknowledged, in-order inbound messages with duplicate suppression, the
 * limits and high-water mark of what is kept, and the checks of a resume. The server's
 * sessions and the client use this one class; each supplies the writing of frames and the
 * timing of acks.
 */
export class Delivery {
  readonly outbound = new ReplayBuffer();
  readonly inbound = new InboundSequence();
  #aboveHighWater = false;

  constructor(readonly limits: DeliveryLimits) {}

  /** Sequence number the next outbound message must carry. */
  get nextSeq(): number {
    return this.outbound.nextSeq;
  }

  /** True when keeping one more frame of `length` bytes would pass a limit. */
  wouldOverflow(length: number): boolean {
    const { outbound, limits } = this;
    return outbound.size >= limits.maxMessages || outbound.bytes + length > limits.maxBytes;
  }

  /** True when more is kept than the limits allow (the keeper ends the session). */
  get overflowing(): boolean {
    const { outbound, limits } = this;
    return outbound.size > limits.maxMessages || outbound.bytes > limits.maxBytes;
  }

  /**
   * Keeps a frame encoded for {@link nextSeq} until it is acknowledged.
   * @returns false when unacknowledged bytes passed the high-water mark: wait for drain.
   */
  push(frame: Uint8Array): boolean {
    this.outbound.push(frame);
    if (this.outbound.bytes > this.limits.highWaterMarkBytes) this.#aboveHighWater = true;
    return !this.#aboveHighWater;
  }

  /**
   * The peer acknowledged every message up to `seq`.
   * @returns true when this brought the kept bytes back under the high-water mark after a
   * `push` returned false: the caller emits `drain`.
   * @throws {ProtocolError} `sequence-gap` when `seq` acknowledges a message never sent.
   */
  acknowledge(seq: number): boolean {
    this.outbound.ack(seq);
    return this.#drained();
  }

  #drained(): boolean {
    if (!this.#aboveHighWater || this.outbound.bytes > this.limits.highWaterMarkBytes) {
      return false;
    }
    this.#aboveHighWater = false;
    return true;
  }

  /**
   * Accepts an inbound message: true for the next one in order, false for a duplicate.
   * @throws {ProtocolError} `sequence-gap` when messages were skipped.
   */
  receive(seq: number): boolean {
    return this.inbound.accept(seq);
  }

  /**
   * Checks what a peer says when a session resumes (a hello's resume request, or a resumed
   * welcome) against what this side holds, then drops what the peer has received.
   * @param peerReceived highest of our messages the peer says it received
   * @param peerSent highest of its messages the peer says it sent or queued
   * @returns the frames to replay, oldest first
   * @throws {ProtocolError} `bad-sequence` when the peer claims messages never sent, or forgets
   * messages already received: its state cannot be reconciled with ours.
   */
  resume(peerReceived: number, peerSent: number): Uint8Array[] {
    if (peerReceived > this.outbound.lastSeq) {
      throw new ProtocolError(
        'bad-sequence',
        `peer claims message ${peerReceived}, only ${this.outbound.lastSeq} were sent`,
      );
    }
    if (peerSent < this.inbound.lastSeq) {
      throw new ProtocolError(
        'bad-sequence',
        `peer sent up to ${peerSent}, yet ${this.inbound.lastSeq} were received`,
      );
    }
    this.outbound.ack(peerReceived);
    // The peer may have missed our last ack: it goes out again with the replay.
    this.inbound.forgetAck();
    return this.outbound.since(peerReceived);
  }

  /**
   * Forgets everything (a new session); returns the frames that were never acknowledged. A
   * sender waiting for drain still gets it: {@link settle} reports it after the reset.
   */
  reset(): Uint8Array[] {
    this.inbound.reset();
    return this.outbound.reset();
  }

  /** True when a previous `push` returned false and no drain happened since. */
  get aboveHighWater(): boolean {
    return this.#aboveHighWater;
  }

  /** After a reset or a shrink: emits drain if the mark was passed and is now clear. */
  settle(): boolean {
    return this.#drained();
  }
}

/**
 * Counts events in a sliding window, to bound how often a peer may make us do something
 * costly (resume replays, resyncs after a gap): `hit()` is false once `limit` were counted in
 * the last `windowMs`.
 */
export class WindowCounter {
  #times: number[] = [];

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  hit(now: number): boolean {
    const since = now - this.windowMs;
    const times = this.#times.filter((t) => t > since);
    times.push(now);
    this.#times = times;
    return times.length <= this.limit;
  }
}
