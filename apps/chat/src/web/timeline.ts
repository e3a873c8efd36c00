import type { ChatMessage, RoomName } from '../shared/schema.js';

/** A message this tab sent that the server has not echoed back yet. */
export interface PendingMessage {
  readonly room: RoomName;
  readonly cid: string;
  readonly text: string;
  /** Local time it was typed, ms since the epoch. */
  readonly ts: number;
  /** Set when the server refused it. */
  failed?: string;
}

export interface AddResult {
  /**
   * `added`: new, to be shown. `duplicate`: already shown (history and live broadcast overlap,
   * or the echo of a re-send). `too-old`: older than everything kept, so not shown.
   */
  readonly kind: 'added' | 'duplicate' | 'too-old';
  /** Seq of the message it goes in front of; null: after all delivered ones. */
  readonly before: number | null;
  /** The cid of the pending copy this message confirms, which the view must retire. */
  readonly replaces: string | null;
}

/**
 * One room's messages as this tab shows them: delivered ones ordered by their server sequence
 * number, each seq at most once, then this tab's pending ones in the order they were typed.
 */
export class Timeline {
  /** Delivered messages, ascending seq. */
  readonly delivered: ChatMessage[] = [];
  readonly pending = new Map<string, PendingMessage>();
  private readonly seqs = new Set<number>();

  constructor(
    readonly room: RoomName,
    /** Older delivered messages are forgotten beyond this many. */
    readonly limit = 500,
  ) {}

  addPending(message: PendingMessage): void {
    this.pending.set(message.cid, message);
  }

  /**
   * Records a delivered message. When it is the echo of a pending one (same cid), the pending
   * copy is removed and named in `replaces`, so the view can turn it into the delivered one.
   */
  add(message: ChatMessage): AddResult {
    const replaces = this.pending.delete(message.cid) ? message.cid : null;
    if (this.seqs.has(message.seq)) return { kind: 'duplicate', before: null, replaces };
    const first = this.delivered[0];
    if (this.delivered.length >= this.limit && first && message.seq < first.seq) {
      return { kind: 'too-old', before: null, replaces };
    }
    const index = this.insertionIndex(message.seq);
    this.delivered.splice(index, 0, message);
    this.seqs.add(message.seq);
    const before = this.delivered[index + 1]?.seq ?? null;
    if (this.delivered.length > this.limit) {
      const dropped = this.delivered.shift()!;
      this.seqs.delete(dropped.seq);
    }
    return { kind: 'added', before, replaces };
  }

  /**
   * Forgets delivered messages (pending ones stay). For a new session: the server may have
   * restarted and numbered its rooms afresh, and the join brings the history back anyway.
   */
  clearDelivered(): void {
    this.delivered.length = 0;
    this.seqs.clear();
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  /** The oldest seq still kept, if any (the view drops elements before it). */
  get firstSeq(): number | null {
    return this.delivered[0]?.seq ?? null;
  }

  private insertionIndex(seq: number): number {
    // Live messages almost always go last: check that before searching.
    const last = this.delivered[this.delivered.length - 1];
    if (!last || last.seq < seq) return this.delivered.length;
    let low = 0;
    let high = this.delivered.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.delivered[mid]!.seq < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
