import { Redis } from 'ioredis';
import type { ChatMessage, Member, MemberStatus, RoomName } from '../shared/schema.js';

/**
 * The chat's own data in Redis, shared by every node of a cluster (sessions themselves are
 * kept by `RedisSessionStore`). Per room, under the hash tag `{<room>}`:
 *
 * - `chat:{room}:history`: list of the last messages, oldest first, capped like the in-memory
 *   history. An entry is `<seq>\t<author>\t<cid>\t<JSON of ts, from, nick, text, cid>`.
 * - `chat:{room}:seq`: the room's last sequence number.
 * - `chat:{room}:presence`: hash, one field per member id:
 *   `<updated at, ms>\t<online|reconnecting>\t<node name>\t<nick>`.
 */

/** Appends a message unless its author already posted one with that id; see {@link ChatRedis.append}. */
const APPEND = `
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local key = '\\t' .. ARGV[1] .. '\\t' .. ARGV[2] .. '\\t'
for i = #items, 1, -1 do
  local item = items[i]
  local tab = string.find(item, '\\t', 1, true)
  if tab and string.sub(item, tab, tab + #key - 1) == key then return {1, item} end
end
local seq = redis.call('INCR', KEYS[2])
local item = seq .. key .. ARGV[4]
redis.call('RPUSH', KEYS[1], item)
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
return {0, item}
`;

/**
 * Presence entries nobody refreshed: `online` ones older than ARGV[2] ms become
 * `reconnecting`, any older than ARGV[3] ms are removed. Returns `{what, id, entry}` triples.
 * Atomic, so of several nodes sweeping at once exactly one reports each change.
 */
const SWEEP = `
local now = tonumber(ARGV[1])
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id = all[i]
  local at, status, rest = string.match(all[i + 1], '^(%d+)\\t(%a+)\\t(.*)$')
  if at == nil or now - tonumber(at) > tonumber(ARGV[3]) then
    redis.call('HDEL', KEYS[1], id)
    table.insert(out, 'gone'); table.insert(out, id); table.insert(out, '')
  elseif now - tonumber(at) > tonumber(ARGV[2]) and status == 'online' then
    local entry = at .. '\\treconnecting\\t' .. rest
    redis.call('HSET', KEYS[1], id, entry)
    table.insert(out, 'reconnecting'); table.insert(out, id); table.insert(out, entry)
  end
end
return out
`;

type Commands = {
  chatAppend(history: string, seq: string, ...args: string[]): Promise<[number, string]>;
  chatSweep(presence: string, ...args: string[]): Promise<string[]>;
};

/** A member as its presence entry has it. */
export interface PresenceEntry extends Member {
  /** Name of the node that last wrote the entry. */
  readonly node: string;
}

/** What a sweep changed. */
export interface SweepResult {
  /** Members nobody refreshed for a while, now shown as reconnecting. */
  readonly reconnecting: PresenceEntry[];
  /** Ids of members whose entries were removed: their sessions are over. */
  readonly gone: string[];
}

export interface ChatRedisOptions {
  /** Longest a command may take before it fails, ms. @default 2000 */
  readonly commandTimeoutMs?: number;
}

/** History and presence of the chat in Redis; one connection per node. */
export class ChatRedis {
  readonly #client: Redis & Commands;

  constructor(url: string, options: ChatRedisOptions = {}) {
    const client = new Redis(url, {
      // Fail at once while Redis is away (the page shows the message as not sent), and
      // reconnect quickly when it is back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      retryStrategy: (attempt) => Math.min(50 * attempt, 500),
      lazyConnect: true,
    });
    client.defineCommand('chatAppend', { numberOfKeys: 2, lua: APPEND });
    client.defineCommand('chatSweep', { numberOfKeys: 1, lua: SWEEP });
    // Failures surface through the commands that fail; without a listener, ioredis would
    // print every reconnect attempt.
    client.on('error', () => {});
    this.#client = client as Redis & Commands;
  }

  /** Connects; rejects when Redis cannot be reached. */
  async connect(): Promise<void> {
    await this.#client.connect();
  }

  /**
   * Stores a message under the room's next sequence number, unless `author` already posted
   * one with this `cid` that is still held: then that one is returned with `resent: true`
   * (a re-send after a lost session, or a message redelivered after a node crash).
   */
  async append(
    room: RoomName,
    fields: Omit<ChatMessage, 'room' | 'seq'>,
    author: string,
    limit: number,
  ): Promise<{ message: ChatMessage; resent: boolean }> {
    const [resent, item] = await this.#client.chatAppend(
      key(room, 'history'),
      key(room, 'seq'),
      author,
      fields.cid,
      String(limit),
      JSON.stringify(fields),
    );
    return { message: parseItem(room, item), resent: resent === 1 };
  }

  /** The room's history, oldest first. */
  async history(room: RoomName): Promise<ChatMessage[]> {
    const items = await this.#client.lrange(key(room, 'history'), 0, -1);
    return items.map((item) => parseItem(room, item));
  }

  /** The room's last sequence number (0 before the first message). */
  async lastSeq(room: RoomName): Promise<number> {
    return Number((await this.#client.get(key(room, 'seq'))) ?? 0);
  }

  /** Writes the presence entries of members this node serves, stamped `now`. */
  async setPresence(
    entries: readonly { room: RoomName; member: Member }[],
    node: string,
    now: number,
  ): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.#client.pipeline();
    for (const { room, member } of entries) {
      pipeline.hset(key(room, 'presence'), member.id, presenceEntry(member, node, now));
    }
    const results = await pipeline.exec();
    for (const [error] of results ?? []) if (error) throw error;
  }

  /** Removes a member's presence entry; true if there was one. */
  async removePresence(room: RoomName, id: string): Promise<boolean> {
    return (await this.#client.hdel(key(room, 'presence'), id)) === 1;
  }

  /** Members present in `room`, online or reconnecting. */
  async presence(room: RoomName): Promise<PresenceEntry[]> {
    const all = await this.#client.hgetall(key(room, 'presence'));
    const members: PresenceEntry[] = [];
    for (const [id, entry] of Object.entries(all)) {
      const member = parsePresence(id, entry);
      if (member) members.push(member);
    }
    return members;
  }

  /** One member's entry, if present. */
  async presenceOf(room: RoomName, id: string): Promise<PresenceEntry | null> {
    const entry = await this.#client.hget(key(room, 'presence'), id);
    return entry === null ? null : parsePresence(id, entry);
  }

  /** How many members each room has. */
  async counts(rooms: readonly RoomName[]): Promise<number[]> {
    const pipeline = this.#client.pipeline();
    for (const room of rooms) pipeline.hlen(key(room, 'presence'));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, count]) => {
      if (error) throw error;
      return Number(count);
    });
  }

  /** See {@link SWEEP}. */
  async sweep(room: RoomName, now: number, staleMs: number, goneMs: number): Promise<SweepResult> {
    const out = await this.#client.chatSweep(
      key(room, 'presence'),
      String(now),
      String(staleMs),
      String(goneMs),
    );
    const result: SweepResult = { reconnecting: [], gone: [] };
    for (let i = 0; i + 2 < out.length; i += 3) {
      const [what, id, entry] = [out[i]!, out[i + 1]!, out[i + 2]!];
      if (what === 'gone') {
        result.gone.push(id);
        continue;
      }
      const member = parsePresence(id, entry);
      if (member) result.reconnecting.push(member);
    }
    return result;
  }

  async close(): Promise<void> {
    await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

function key(room: RoomName, what: 'history' | 'seq' | 'presence'): string {
  return `chat:{${room}}:${what}`;
}

function parseItem(room: RoomName, item: string): ChatMessage {
  const seq = Number(item.slice(0, item.indexOf('\t')));
  // The JSON is the rest after the fourth field; author and cid never contain a tab.
  let at = 0;
  for (let i = 0; i < 3; i++) at = item.indexOf('\t', at) + 1;
  const fields = JSON.parse(item.slice(at)) as Omit<ChatMessage, 'room' | 'seq'>;
  return { ...fields, room, seq };
}

function presenceEntry(member: Member, node: string, now: number): string {
  return `${Math.floor(now)}\t${member.status}\t${node.replaceAll('\t', ' ')}\t${member.nick}`;
}

function parsePresence(id: string, entry: string): PresenceEntry | null {
  const parts = entry.split('\t');
  if (parts.length < 4) return null;
  const status = parts[1] as MemberStatus;
  if (status !== 'online' && status !== 'reconnecting') return null;
  return { id, nick: parts.slice(3).join('\t'), status, node: parts[2]! };
}
