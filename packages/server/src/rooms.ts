import type { EncodedPayload } from '@probe/protocol';
import type { SessionCore } from './session-core.js';

/**
 * Named groups of the sessions this node serves. A session's rooms are part of its record,
 * so they move with it; this index only finds members. A broadcast encodes the payload once;
 * each member gets the same payload bytes behind its own few header bytes (its sequence number).
 */
export class Rooms {
  private readonly rooms = new Map<string, Set<SessionCore>>();

  /** @returns false when `core` already was a member. */
  join(room: string, core: SessionCore): boolean {
    this.add(room, core);
    const { rooms } = core.record;
    if (rooms.includes(room)) return false;
    rooms.push(room);
    return true;
  }

  /** @returns false when `core` was not a member. */
  leave(room: string, core: SessionCore): boolean {
    const members = this.rooms.get(room);
    if (members?.delete(core) && members.size === 0) this.rooms.delete(room);
    const { rooms } = core.record;
    const at = rooms.indexOf(room);
    if (at === -1) return false;
    rooms.splice(at, 1);
    return true;
  }

  /** Forgets `core` in every room it joined, without changing its record (it may live on). */
  forget(core: SessionCore): void {
    for (const room of core.record.rooms) {
      const members = this.rooms.get(room);
      if (members?.delete(core) && members.size === 0) this.rooms.delete(room);
    }
  }

  /** Indexes a session that arrived with rooms in its record. */
  index(core: SessionCore): void {
    for (const room of core.record.rooms) this.add(room, core);
  }

  private add(room: string, core: SessionCore): void {
    const members = this.rooms.get(room);
    if (members) members.add(core);
    else this.rooms.set(room, new Set([core]));
  }

  members(room: string): ReadonlySet<SessionCore> {
    return this.rooms.get(room) ?? new Set();
  }

  names(): string[] {
    return [...this.rooms.keys()];
  }

  /** Sends to every session except `except`; returns how many sessions it was sent to. */
  broadcast(
    sessions: Iterable<SessionCore>,
    payload: EncodedPayload,
    except: SessionCore | undefined,
    volatile: boolean,
  ): number {
    let count = 0;
    for (const core of sessions) {
      if (core === except || core.state === 'closed') continue;
      if (volatile) {
        if (core.sendVolatile(payload)) count++;
      } else {
        core.sendPayload(payload);
        count++;
      }
    }
    return count;
  }
}
