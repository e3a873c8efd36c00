import {
  compareEntryIds,
  type EndedSession,
  type LoadedSession,
  type Logger,
  type RoomListener,
  type RoomRead,
  type SessionChanges,
  type SessionRecord,
  type SessionStore,
  StoreError,
  type StoreNode,
} from '@probe/server';
import { type Cluster, Redis } from 'ioredis';
import { duplicate } from './connections.js';
import { Keys } from './keys.js';
import { cursorsJson, decodeRecord, encodeRecord, FIELDS } from './record-codec.js';
import { RoomReader } from './room-reader.js';
import { APPEND, CLAIM, END, SYNC } from './scripts.js';

export interface RedisSessionStoreOptions {
  /** A Redis URL (`redis://host:port/db`); the store opens and closes its own connections. */
  url?: string;
  /**
   * A client the application already has (ioredis `Redis` or `Cluster`). The store adds its
   * scripts to it and opens one more connection (`duplicate()`) for pub/sub; `close()` closes
   * only that one.
   */
  client?: Redis | Cluster;
  /**
   * Prefix of every key and channel.
   * @default 'probe'
   */
  keyPrefix?: string;
  /**
   * Longest any Redis operation may take, in ms; then it fails with
   * `StoreError('unavailable')` instead of hanging (the client gets 1013 and retries).
   * @default 2000
   */
  operationTimeoutMs?: number;
  /**
   * How long the ended marker of a session is kept, so a late resume learns how it ended
   * (expired, closed) instead of "unknown", in ms.
   * @default 600000 (10 min)
   */
  endedTtlMs?: number;
  /**
   * How often a node says it is alive, in ms. A node that stops (killed, frozen) is taken
   * for dead after three of these: its sessions are then taken over without waiting.
   * @default 1000
   */
  heartbeatMs?: number;
  /**
   * Entries kept per room stream (approximately: Redis trims in whole nodes). A member whose
   * session was away longer than it took to publish this many is ended with 4020.
   * @default 10000
   */
  roomMaxLength?: number;
  /**
   * Where the store logs (pino-compatible, like the server's `logger` option): a lost Redis
   * connection and a failed heartbeat at warn (once per outage), their recovery at info.
   * Failed operations are not logged here: they reach the server as `StoreError`s.
   * @default none: the store logs nothing
   */
  logger?: Logger;
}

type Commands = {
  probeClaim(k1: string, k2: string, k3: string, ...args: string[]): Promise<number>;
  probeAppend(k1: string, k2: string, ...args: (string | Uint8Array)[]): Promise<number>;
  probeSync(k1: string, k2: string, ...args: string[]): Promise<number>;
  probeEnd(k1: string, k2: string, k3: string, ...args: string[]): Promise<number>;
};
type Client = (Redis | Cluster) & Commands;

type Message =
  | { op: 'release'; id: string; from: string; rid: number }
  | { op: 'released'; rid: number };

/**
 * A {@link SessionStore} on Redis, so several Probe server nodes share sessions: a client
 * resumes on any node, and a deploy or a killed node loses nothing. See this package's README
 * and docs/scale-out.md for what is stored and what each failure costs.
 *
 * @example
 * const store = new RedisSessionStore({ url: 'redis://127.0.0.1:6379' });
 * const server = new ProbeServer({ store });
 */
export class RedisSessionStore implements SessionStore {
  readonly #client: Client;
  readonly #ownsClient: boolean;
  readonly #keys: Keys;
  readonly #timeoutMs: number;
  readonly #endedTtlMs: number;
  readonly #heartbeatMs: number;
  readonly #roomMaxLength: number;
  #reader: RoomReader | null = null;
  #rooms: RoomListener | null = null;
  readonly #volatileRooms = new Set<string>();
  #ttlMs = 120_000;
  #node: StoreNode | null = null;
  #subscriber: Redis | Cluster | null = null;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #touch: ReturnType<typeof setInterval> | undefined;
  /** Sessions this node owns, for refreshing their TTL while it lives. */
  readonly #owned = new Set<string>();
  readonly #waiting = new Map<number, () => void>();
  #nextRequest = 1;
  /** When the last heartbeat was sent (not answered: the key's TTL starts after this). */
  #lastBeat = Number.NEGATIVE_INFINITY;
  /** Changes each time the lease is taken up again after a lapse. */
  #leaseNumber = 0;
  readonly #logger: Logger | null;
  /** Outages already logged, so a reconnect loop logs once. */
  #connectionLost = false;
  #heartbeatFailing = false;

  constructor(options: RedisSessionStoreOptions) {
    if ((options.url === undefined) === (options.client === undefined)) {
      throw new TypeError('RedisSessionStore needs exactly one of `url` or `client`');
    }
    this.#ownsClient = options.client === undefined;
    const client =
      options.client ??
      new Redis(options.url as string, {
        // Fail at once while disconnected (the operation's deadline is the only wait), and
        // reconnect quickly once Redis is back: clients are retrying their resumes meanwhile.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(50 * attempt, 500),
      });
    client.defineCommand('probeClaim', { numberOfKeys: 3, lua: CLAIM });
    client.defineCommand('probeAppend', { numberOfKeys: 2, lua: APPEND });
    client.defineCommand('probeSync', { numberOfKeys: 2, lua: SYNC });
    client.defineCommand('probeEnd', { numberOfKeys: 3, lua: END });
    // A connection error is reported through the operations that fail; without a listener,
    // ioredis would print every reconnect attempt. The logger hears of it once per outage.
    this.#logger = options.logger ?? null;
    client.on('error', (error: Error) => {
      if (this.#connectionLost) return;
      this.#connectionLost = true;
      this.#log('warn', { err: error }, 'Redis connection lost');
    });
    client.on('ready', () => {
      if (!this.#connectionLost) return;
      this.#connectionLost = false;
      this.#log('info', {}, 'Redis connection back');
    });
    this.#client = client as Client;
    this.#keys = new Keys(options.keyPrefix ?? 'probe');
    this.#timeoutMs = options.operationTimeoutMs ?? 2000;
    this.#endedTtlMs = options.endedTtlMs ?? 600_000;
    this.#heartbeatMs = options.heartbeatMs ?? 1000;
    this.#roomMaxLength = options.roomMaxLength ?? 10_000;
  }

  async open(node: StoreNode, options: { sessionTtlMs: number }): Promise<void> {
    this.#node = node;
    // Keys outlive a dead owner by the session TTL plus one refresh period.
    this.#ttlMs = Math.ceil(options.sessionTtlMs * 1.5) + this.#heartbeatMs * 3;
    await this.#ready(this.#client);
    const subscriber = duplicate(this.#client);
    this.#subscriber = subscriber;
    const nodeChannel = this.#keys.channel(node.id);
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === nodeChannel) this.#onMessage(message.toString());
      else this.#onVolatile(channel.toString(), message);
    });
    this.#reader = new RoomReader(this.#client, this.#keys, (room, entries) =>
      this.#rooms?.entries(room, entries),
    );
    await this.#ready(subscriber);
    await this.#op(() => subscriber.subscribe(this.#keys.channel(node.id)));
    await this.#beat();
    this.#heartbeat = setInterval(
      () =>
        void this.#beat().then(
          () => {
            if (!this.#heartbeatFailing) return;
            this.#heartbeatFailing = false;
            this.#log('info', { nodeId: node.id }, 'heartbeat stored again');
          },
          (error: unknown) => {
            if (this.#heartbeatFailing) return;
            this.#heartbeatFailing = true;
            // Past three heartbeats other nodes take this node's sessions over.
            this.#log('warn', { err: error, nodeId: node.id }, 'heartbeat failed');
          },
        ),
      this.#heartbeatMs,
    );
    this.#heartbeat.unref?.();
    this.#touch = setInterval(() => void this.#refresh().catch(() => {}), options.sessionTtlMs / 3);
    this.#touch.unref?.();
  }

  async detach(): Promise<void> {
    clearInterval(this.#heartbeat);
    clearInterval(this.#touch);
    const node = this.#node;
    this.#node = null;
    if (node) await this.#op(() => this.#client.del(this.#keys.node(node.id))).catch(() => {});
    this.#subscriber?.disconnect();
    this.#subscriber = null;
    this.#reader?.stop();
    this.#reader = null;
  }

  /** Stops serving and closes the connections this store opened. */
  async close(): Promise<void> {
    await this.detach();
    if (this.#ownsClient) {
      await this.#client.quit().catch(() => this.#client.disconnect());
    }
  }

  lease(): number | null {
    // The liveness key lives three heartbeats from when it was last set; one heartbeat of
    // margin covers a set that was slow to reach Redis.
    return performance.now() - this.#lastBeat < this.#heartbeatMs * 2 ? this.#leaseNumber : null;
  }

  async verify(id: string, epoch: number): Promise<boolean> {
    const current = await this.#op(() => this.#client.hget(this.#keys.session(id), 'ep'));
    return current === String(epoch);
  }

  async create(record: SessionRecord): Promise<void> {
    const key = this.#keys.session(record.id);
    await this.#op(() =>
      this.#client
        .multi()
        .hset(key, ...encodeRecord(record))
        .pexpire(key, this.#ttlMs)
        .exec(),
    );
    this.#owned.add(record.id);
  }

  async load(id: string): Promise<LoadedSession | EndedSession | null> {
    const keys = this.#keys;
    const results = await this.#op(() =>
      this.#client
        .multi()
        .hmgetBuffer(keys.session(id), ...FIELDS)
        .lrangeBuffer(keys.frames(id), 0, -1)
        .get(keys.ended(id))
        .exec(),
    );
    const [fields, frames, ended] = (results ?? []).map(([error, value]) => {
      if (error) throw new StoreError('unavailable', error.message, { cause: error });
      return value;
    });
    const record = decodeRecord(id, (fields ?? []) as (Buffer | null)[]);
    if (record === null) {
      return typeof ended === 'string' ? { endedWith: Number(ended) } : null;
    }
    const list = (frames ?? []) as Buffer[];
    return { record, frames: list.map((frame) => new Uint8Array(frame)) };
  }

  async release(record: SessionRecord, timeoutMs: number): Promise<boolean> {
    const node = this.#node;
    if (!node) return false;
    const ownerKey = this.#keys.node(record.owner);
    if (!(await this.#op(() => this.#client.exists(ownerKey)))) return true;
    const rid = this.#nextRequest++;
    let answered = false;
    this.#waiting.set(rid, () => {
      answered = true;
    });
    try {
      const request: Message = { op: 'release', id: record.id, from: node.id, rid };
      await this.#op(() =>
        this.#client.publish(this.#keys.channel(record.owner), JSON.stringify(request)),
      );
      // A live owner answers within timeoutMs. After that, an owner whose lease expired is
      // gone; one whose lease is still current may still hand messages to its application,
      // so it is waited for (its answer still counts) until its lease would have run out.
      const start = performance.now();
      const deadline = start + timeoutMs + this.#heartbeatMs * 3;
      const step = Math.max(5, Math.min(50, this.#heartbeatMs / 4));
      while (!answered && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, step));
        if (answered) break;
        if (performance.now() - start >= timeoutMs) {
          if (!(await this.#op(() => this.#client.exists(ownerKey)))) return true;
        }
      }
      return answered;
    } finally {
      this.#waiting.delete(rid);
    }
  }

  async claim(
    id: string,
    expected: { epoch: number; version: number | null },
    owner: string,
    tokens: { tokenHash: string | null; pendingTokenHash: string | null; redeliverUpTo: number },
    maxPerMinute: number,
  ): Promise<number | 'conflict' | 'too-many'> {
    const keys = this.#keys;
    const epoch = await this.#op(() =>
      this.#client.probeClaim(
        keys.session(id),
        keys.frames(id),
        keys.resumes(id),
        String(expected.epoch),
        owner,
        tokens.tokenHash ?? '',
        tokens.pendingTokenHash ?? '',
        String(this.#ttlMs),
        String(Number.isFinite(maxPerMinute) ? maxPerMinute : 2 ** 52),
        expected.version === null ? '' : String(expected.version),
        String(tokens.redeliverUpTo),
      ),
    );
    if (epoch === -2) return 'too-many';
    if (epoch <= 0) return 'conflict';
    this.#owned.add(id);
    return epoch;
  }

  async append(
    id: string,
    epoch: number,
    seq: number,
    frame: Uint8Array,
    cursor?: { room: string; entryId: string },
  ): Promise<void> {
    const keys = this.#keys;
    const bytes = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const args = [String(epoch), String(seq), bytes, String(this.#ttlMs)];
    if (cursor) args.push(cursor.room, cursor.entryId);
    await this.#fenced(id, () =>
      this.#client.probeAppend(keys.session(id), keys.frames(id), ...args),
    );
  }

  async publish(room: string, payload: Uint8Array, except: string | null): Promise<string> {
    const key = this.#keys.room(room);
    const data = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const id = await this.#op(() =>
      this.#client.xadd(key, 'MAXLEN', '~', this.#roomMaxLength, '*', 'p', data, 'x', except ?? ''),
    );
    // An idle room's stream goes away by itself; every member's session expires before it.
    void this.#op(() => this.#client.pexpire(key, this.#ttlMs * 2)).catch(() => {});
    return String(id);
  }

  async publishVolatile(room: string, payload: Uint8Array, except: string | null): Promise<void> {
    const header = Buffer.from(`${except ?? ''}\n`);
    const message = Buffer.concat([header, payload]);
    await this.#op(() => this.#client.publish(this.#keys.volatile(room), message));
  }

  async roomHead(room: string): Promise<string> {
    const newest = await this.#op(() =>
      this.#client.xrevrange(this.#keys.room(room), '+', '-', 'COUNT', 1),
    );
    return newest[0]?.[0] ?? '0-0';
  }

  async readRoom(room: string, afterId: string, count: number): Promise<RoomRead> {
    const key = this.#keys.room(room);
    const [raw, first] = await this.#op(() =>
      Promise.all([
        this.#client.xrangeBuffer(key, `(${afterId}`, '+', 'COUNT', count),
        this.#trimmedBefore(key),
      ]),
    );
    const entries = RoomReader.parse(raw as unknown[]);
    const trimmed = first !== null && compareEntryIds(afterId, first) < 0;
    return { entries, trimmed };
  }

  listen(listener: RoomListener): void {
    this.#rooms = listener;
  }

  watch(room: string, afterId: string): void {
    this.#reader?.watch(room, afterId);
    if (this.#volatileRooms.has(room)) return;
    this.#volatileRooms.add(room);
    void this.#op(() => this.#subscriber!.subscribe(this.#keys.volatile(room))).catch(() => {});
  }

  unwatch(room: string): void {
    this.#reader?.unwatch(room);
    if (!this.#volatileRooms.delete(room)) return;
    void this.#op(() => this.#subscriber!.unsubscribe(this.#keys.volatile(room))).catch(() => {});
  }

  /**
   * The id of the oldest entry a stream still has, when older ones were trimmed (else null).
   * Entries after a cursor below it may be gone; exactly at the boundary it cannot be told, so
   * that counts as trimmed too: a member is ended rather than silently missing a message.
   */
  async #trimmedBefore(key: string): Promise<string | null> {
    let info: unknown;
    try {
      info = await this.#client.call('XINFO', 'STREAM', key);
    } catch {
      return null; // no such stream: nothing was published, or it expired idle
    }
    const field = (name: string): unknown => {
      // RESP2 gives a flat array of names and values, RESP3 a map.
      if (Array.isArray(info)) {
        const at = info.findIndex((item) => String(item) === name);
        return at === -1 ? undefined : info[at + 1];
      }
      if (info instanceof Map) return info.get(name);
      return (info as Record<string, unknown>)[name];
    };
    const added = Number(field('entries-added'));
    const length = Number(field('length'));
    if (!(added > length)) return null;
    return String(field('recorded-first-entry-id'));
  }

  #onVolatile(channel: string, message: Buffer): void {
    const room = channel.slice(this.#keys.volatile('').length);
    const newline = message.indexOf(10);
    if (newline === -1) return;
    const except = message.subarray(0, newline).toString() || null;
    this.#rooms?.volatile(room, new Uint8Array(message.subarray(newline + 1)), except);
  }

  async sync(id: string, epoch: number, changes: SessionChanges): Promise<void> {
    const args: string[] = [];
    if (changes.inSeq !== undefined) args.push('in', String(changes.inSeq));
    if (changes.ackedSeq !== undefined) args.push('ack', String(changes.ackedSeq));
    if (changes.tokenHash !== undefined) args.push('th', changes.tokenHash ?? '');
    if (changes.pendingTokenHash !== undefined) args.push('pth', changes.pendingTokenHash ?? '');
    if (changes.rooms !== undefined) args.push('rooms', JSON.stringify(changes.rooms));
    if (changes.roomCursors !== undefined) args.push('rc', cursorsJson(changes.roomCursors));
    if (changes.held !== undefined) args.push('held', changes.held ? '1' : '0');
    const keys = this.#keys;
    await this.#fenced(id, () =>
      this.#client.probeSync(
        keys.session(id),
        keys.frames(id),
        String(epoch),
        String(this.#ttlMs),
        ...args,
      ),
    );
  }

  async end(id: string, epoch: number, closeCode: number): Promise<void> {
    const keys = this.#keys;
    this.#owned.delete(id);
    await this.#fenced(id, () =>
      this.#client.probeEnd(
        keys.session(id),
        keys.frames(id),
        keys.ended(id),
        String(epoch),
        String(closeCode),
        String(this.#endedTtlMs),
      ),
    );
  }

  /** Runs a fenced script: `FENCED` becomes StoreError('fenced') and the session is not ours. */
  async #fenced(id: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await this.#op(run);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'fenced') this.#owned.delete(id);
      throw error;
    }
  }

  /** Runs one operation with a deadline; every failure becomes a StoreError. */
  async #op<T>(run: () => Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreError('unavailable', `Redis did not answer within ${this.#timeoutMs} ms`),
          ),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (message.includes('FENCED')) {
        throw new StoreError('fenced', 'another node owns the session', { cause: error });
      }
      throw new StoreError('unavailable', `Redis: ${message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async #ready(client: Redis | Cluster): Promise<void> {
    if (client.status === 'ready') return;
    await this.#op(
      () =>
        new Promise<void>((resolve, reject) => {
          client.once('ready', resolve);
          client.once('end', () => reject(new Error('connection ended')));
        }),
    );
  }

  async #beat(): Promise<void> {
    const node = this.#node;
    if (!node) return;
    const sentAt = performance.now();
    // Sent after a lapse: sessions may have been taken over meanwhile, so this is a new lease
    // and whatever was checked under the old one is checked again.
    const lapsed = this.lease() === null;
    await this.#op(() =>
      this.#client.set(this.#keys.node(node.id), '1', 'PX', this.#heartbeatMs * 3),
    );
    if (lapsed) this.#leaseNumber++;
    this.#lastBeat = Math.max(this.#lastBeat, sentAt);
  }

  async #refresh(): Promise<void> {
    if (this.#owned.size === 0) return;
    const pipeline = this.#client.pipeline();
    for (const id of this.#owned) {
      pipeline.pexpire(this.#keys.session(id), this.#ttlMs);
      pipeline.pexpire(this.#keys.frames(id), this.#ttlMs);
    }
    await this.#op(() => pipeline.exec());
  }

  #log(level: 'info' | 'warn', fields: object, message: string): void {
    try {
      this.#logger?.[level](fields, message);
    } catch {
      // A logger that throws must not break the store.
    }
  }

  #onMessage(text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.op === 'released') {
      this.#waiting.get(message.rid)?.();
      return;
    }
    const node = this.#node;
    if (message.op !== 'release' || !node) return;
    this.#owned.delete(message.id);
    const reply: Message = { op: 'released', rid: message.rid };
    void node
      .release(message.id)
      .catch(() => {})
      .then(() =>
        this.#op(() =>
          this.#client.publish(this.#keys.channel(message.from), JSON.stringify(reply)),
        ),
      )
      .catch(() => {});
  }
}
