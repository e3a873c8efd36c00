import { encodePayload } from '@probe/protocol';
import type { Session } from './session.js';

/**
 * Named groups of sessions. A broadcast encodes the payload once; each member gets the same
 * payload bytes behind its own few header bytes (its sequence number).
 */
export class Rooms<S extends Session = Session> {
  private readonly rooms = new Map<string, Set<S>>();

  join(room: string, session: S): void {
    if (session.state === 'closed') return;
    let members = this.rooms.get(room);
    if (!members) {
      members = new Set();
      this.rooms.set(room, members);
    }
    members.add(session);
    session.joined ??= new Set();
    session.joined.add(room);
  }

  leave(room: string, session: S): void {
    const members = this.rooms.get(room);
    session.joined?.delete(room);
    if (!members) return;
    members.delete(session);
    if (members.size === 0) this.rooms.delete(room);
  }

  leaveAll(session: S): void {
    for (const room of [...session.rooms]) this.leave(room, session);
  }

  members(room: string): ReadonlySet<S> {
    return this.rooms.get(room) ?? new Set();
  }

  names(): string[] {
    return [...this.rooms.keys()];
  }

  /** Sends to every member except `except`; returns how many sessions it was sent to. */
  broadcast(sessions: Iterable<S>, data: unknown, except?: S): number {
    const payload = encodePayload(data);
    let count = 0;
    for (const session of sessions) {
      if (session === except || session.state === 'closed') continue;
      session.sendPayload(payload);
      count++;
    }
    return count;
  }
}
