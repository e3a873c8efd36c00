/**
 * Key names. The keys of one session share the hash tag `{<id>}`, so they live in one slot of
 * a Redis Cluster and one script can touch them all.
 */
export class Keys {
  constructor(private readonly prefix: string) {}

  /** Hash: the session record. */
  session(id: string): string {
    return `${this.prefix}:{${id}}`;
  }

  /** List: unacknowledged server→client frames, oldest first. */
  frames(id: string): string {
    return `${this.prefix}:{${id}}:q`;
  }

  /** Counter of the session's resumes in the current minute. */
  resumes(id: string): string {
    return `${this.prefix}:{${id}}:r`;
  }

  /** String: the close code of a session that ended recently. */
  ended(id: string): string {
    return `${this.prefix}:{${id}}:end`;
  }

  /** Stream: the messages of a room, in room order (bounded). */
  room(room: string): string {
    return `${this.prefix}:room:{${room}}`;
  }

  /** Pub/sub channel of a room's volatile messages. */
  volatile(room: string): string {
    return `${this.prefix}:roomv:${room}`;
  }

  /** String with a short TTL: present while the node is alive. */
  node(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }

  /** Pub/sub channel on which a node receives requests and replies. */
  channel(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }
}
