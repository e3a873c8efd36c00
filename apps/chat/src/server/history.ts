import type { ChatMessage, RoomName } from '../shared/messages.js';

/**
 * One room's recent messages, oldest first, at most `limit` of them. Sequence numbers keep
 * counting past the limit, so a client can tell a message it has from one it has not.
 */
export class RoomHistory {
  private readonly messages: ChatMessage[] = [];
  private seq = 0;

  constructor(
    readonly room: RoomName,
    readonly limit: number,
  ) {}

  /** Sequence number of the latest message (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  get size(): number {
    return this.messages.length;
  }

  /** Stores a message under the next sequence number and returns it. */
  append(fields: Omit<ChatMessage, 'room' | 'seq'>): ChatMessage {
    const message: ChatMessage = { ...fields, room: this.room, seq: ++this.seq };
    this.messages.push(message);
    // Dropping one at a time keeps it exact; at a few hundred entries the copy is cheap.
    if (this.messages.length > this.limit) this.messages.shift();
    return message;
  }

  /**
   * The stored message with this client-generated id, if still held. Client ids are random,
   * so a match is a re-send of the same message (after a lost session), not a new one.
   */
  findByCid(cid: string): ChatMessage | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const message = this.messages[i]!;
      if (message.cid === cid) return message;
    }
    return undefined;
  }

  /** A copy of what is held, oldest first. */
  snapshot(): ChatMessage[] {
    return [...this.messages];
  }
}
