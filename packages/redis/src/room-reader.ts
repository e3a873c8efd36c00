import type { RoomEntry } from '@probe/server';
import { Cluster, type Redis } from 'ioredis';
import { duplicate } from './connections.js';
import type { Keys } from './keys.js';

/** How long one blocking read waits for new entries before picking up newly watched rooms. */
const BLOCK_MS = 250;
/** Entries read per room per call. */
const COUNT = 1000;

/**
 * Reads the streams of the rooms this node watches, once per node, on a connection of its
 * own (a blocking XREAD holds its connection). On a Redis Cluster every room is its own slot,
 * so each room is read with a command of its own.
 */
export class RoomReader {
  readonly #connection: Redis | Cluster;
  /** Watched rooms and the id of the last entry read of each. */
  readonly #after = new Map<string, string>();
  #running = true;
  #wake: (() => void) | null = null;

  constructor(
    client: Redis | Cluster,
    private readonly keys: Keys,
    private readonly onEntries: (room: string, entries: RoomEntry[]) => void,
  ) {
    this.#connection = duplicate(client);
    void this.#loop();
  }

  watch(room: string, afterId: string): void {
    if (!this.#after.has(room)) this.#after.set(room, afterId);
    this.#wake?.();
  }

  unwatch(room: string): void {
    this.#after.delete(room);
  }

  stop(): void {
    this.#running = false;
    this.#wake?.();
    this.#connection.disconnect();
  }

  async #loop(): Promise<void> {
    for (let idle = 0; this.#running; ) {
      if (this.#after.size === 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        this.#wake = null;
        continue;
      }
      try {
        const groups =
          this.#connection instanceof Cluster
            ? [...this.#after.keys()].map((room) => [room])
            : [[...this.#after.keys()]];
        for (const rooms of groups) await this.#read(rooms, groups.length === 1);
        idle = 0;
      } catch {
        // Redis unreachable: try again shortly, with the ids already read.
        idle = Math.min(idle + 1, 10);
        await new Promise((resolve) => setTimeout(resolve, 50 * idle));
      }
    }
  }

  async #read(rooms: string[], block: boolean): Promise<void> {
    const keys = rooms.map((room) => this.keys.room(room));
    const ids = rooms.map((room) => this.#after.get(room) ?? '0-0');
    const args: (string | number)[] = ['COUNT', COUNT];
    if (block) args.push('BLOCK', BLOCK_MS);
    const reply = (await this.#connection.xreadBuffer(
      ...(args as ['COUNT', number]),
      'STREAMS',
      ...keys,
      ...ids,
    )) as unknown;
    if (!block && !reply) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const [key, raw] of streams(reply)) {
      const room = rooms[keys.indexOf(key)];
      if (room === undefined || !this.#after.has(room)) continue;
      const entries = RoomReader.parse(raw);
      const last = entries.at(-1);
      if (!last) continue;
      this.#after.set(room, last.id);
      this.onEntries(room, entries);
    }
  }

  /** Entries from an XRANGE/XREAD reply: `[id, [field, value, …]]` each. */
  static parse(raw: unknown[]): RoomEntry[] {
    const entries: RoomEntry[] = [];
    for (const item of raw) {
      const [id, fields] = item as [Buffer, Buffer[]];
      let payload: Uint8Array | undefined;
      let except: string | null = null;
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = fields[i]?.toString();
        if (name === 'p') payload = new Uint8Array(fields[i + 1] as Buffer);
        else if (name === 'x') except = fields[i + 1]?.toString() || null;
      }
      if (payload) entries.push({ id: id.toString(), payload, except });
    }
    return entries;
  }
}

/** The `[key, entries]` pairs of an XREAD reply, whether RESP2 (array) or RESP3 (map). */
function streams(reply: unknown): [string, unknown[]][] {
  if (!reply) return [];
  if (Array.isArray(reply)) {
    return reply.map((pair) => {
      const [key, entries] = pair as [Buffer, unknown[]];
      return [key.toString(), entries];
    });
  }
  if (reply instanceof Map) {
    return [...reply.entries()].map(([key, entries]) => [String(key), entries as unknown[]]);
  }
  return Object.entries(reply as Record<string, unknown[]>);
}
