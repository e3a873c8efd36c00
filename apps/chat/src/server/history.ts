import type { ChatMessage, RoomName } from '../shared/schema.js';

/**
 * One room's recent messages, oldest first, at most `limit` of them. Sequence numbers keep
 * counting past the limit, so a client can tell a message it has from one it has not.
 */
export class RoomHistory {
  private readonly entries: { readonly message: ChatMessage; readonly author: string }[] = [];
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
    return this.entries.length;
  }

  /**
   * Stores a message under the next sequence number and returns it. `author` is the private
   * identity of whoever wrote it, kept beside the message and never part of it.
   */
  append(fields: Omit<ChatMessage, 'room' | 'seq'>, author: string): ChatMessage {
    const message: ChatMessage = { ...fields, room: this.room, seq: ++this.seq };
    this.entries.push({ message, author });
    // Dropping one at a time keeps it exact; at a few hundred entries the copy is cheap.
    if (this.entries.length > this.limit) this.entries.shift();
    return message;
  }

  /**
   * The stored message `author` sent under this client-generated id, if still held: a re-send
   * of it (after a lost session), not a new one. Ids are broadcast with the messages, so only
   * the author's own ids count; anyone else's message with the same id is a different one.
   */
  findResent(author: string, cid: string): ChatMessage | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const { message, author: by } = this.entries[i]!;
      if (message.cid === cid && by === author) return message;
    }
    return undefined;
  }

  /** A copy of what is held, oldest first. */
  snapshot(): ChatMessage[] {
    return this.entries.map((entry) => entry.message);
  }
}
