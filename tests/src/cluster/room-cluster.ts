// A Probe cluster for rooms: a real Redis, N server nodes in their own processes (room-node.ts),
// a round-robin TCP balancer that can cut connections, and members (ProbeClients) that join
// and leave rooms by asking their node. The test has random live nodes broadcast numbered
// messages to a room, breaks things, and compares what each member received with the room's
// stream as Redis holds it (see room-ledger.ts).

import { ProbeClient } from '@probe/client';
import { decodeMessageData, type EncodedPayload, encodeMessageWithPayload } from '@probe/protocol';
import { type RedisServer, sleep, startRedis, waitFor } from '@probe/testkit';
import { CuttingBalancer } from './cutting-balancer.js';
import type { Broadcast, MemberHistory, MemberOp } from './room-ledger.js';
import { type Exit, RoomNodeProcess } from './room-processes.js';
import {
  type JoinedReport,
  type MemberAuth,
  type MemberCommand,
  type MemberInbound,
  nowUs,
  type RoomMessage,
  type RoomNodeReport,
  type RoomNodeSettings,
} from './room-reports.js';

export interface RoomClusterOptions {
  readonly nodes: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly sessionTtlMs: number;
  readonly endedTtlMs?: number;
  readonly heartbeatMs?: number;
  /** ProbeClient `ackDelayMs` of the members (its default when absent). */
  readonly memberAckDelayMs?: number;
  /** RedisSessionStore `operationTimeoutMs` of the nodes (its default when absent). */
  readonly operationTimeoutMs?: number;
  /**
   * The balancer sends each new connection of a member to another node than its previous
   * one, so every resume is a resume on another node (default true).
   */
  readonly resumeElsewhere?: boolean;
}

/** Broadcasting stops by itself after this long, should a test forget to stop it. */
const MAX_PUBLISHING_MS = 5 * 60_000;
/** Members are opened this many at a time. */
const OPEN_BATCH = 50;

/** One join or leave as the member sent it. */
interface SentOp {
  readonly j: number;
  readonly kind: 'join' | 'leave';
  readonly room: string;
  readonly sentAt: number;
  answeredAt?: number;
  /** Nodes whose answer arrived. */
  readonly answeredBy: Set<string>;
}

/** One member: a ProbeClient through the balancer and everything it sent and received. */
export class RoomMember {
  readonly ops: SentOp[] = [];
  /** Broadcast numbers received, per room, in order. */
  readonly received = new Map<string, number[]>();
  /** When it had no open session: [from, to) in µs, `to` Infinity while down. */
  readonly outages: [number, number][] = [[nowUs(), Number.POSITIVE_INFINITY]];
  sessionLost = 0;
  disconnects = 0;
  /** Disconnects by close code and reason (numbers in the reason as N). */
  readonly disconnectReasons = new Map<string, number>();
  resumes = 0;
  lastReceivedAt = 0;
  /** What must not happen (a send refused, the client closed, an error), in order. */
  readonly problems: string[] = [];

  constructor(
    readonly index: number,
    readonly client: ProbeClient<MemberInbound, MemberCommand>,
    log: (what: string) => void = () => {},
  ) {
    client.on('message', (data) => {
      if ('b' in data) this.#received(data);
      else {
        const op = this.ops[data.j - 1];
        if (!op) return;
        op.answeredAt ??= nowUs();
        op.answeredBy.add(data.node);
      }
    });
    client.on('state', (state) => {
      const last = this.outages.at(-1);
      const down = last !== undefined && last[1] === Number.POSITIVE_INFINITY;
      if (state === 'open' && down) last[1] = nowUs();
      else if (state !== 'open' && !down) this.outages.push([nowUs(), Number.POSITIVE_INFINITY]);
    });
    client.on('disconnect', (info) => {
      this.disconnects++;
      const reason = `${info.code} ${info.reason.replace(/\d+/g, 'N')}`.trim();
      this.disconnectReasons.set(reason, (this.disconnectReasons.get(reason) ?? 0) + 1);
      log(`disconnected (${info.code} ${info.reason})`);
    });
    client.on('resume', () => this.resumes++);
    client.on('session-lost', (info) => {
      this.sessionLost++;
      this.problems.push(`session lost: ${info.reason}`);
    });
    client.on('close', (info) => this.problems.push(`closed: ${info.code} ${info.reason}`));
    client.on('error', (error) => this.problems.push(`error: ${String(error)}`));
  }

  #received(message: RoomMessage): void {
    let list = this.received.get(message.room);
    if (!list) {
      list = [];
      this.received.set(message.room, list);
    }
    list.push(message.b);
    this.lastReceivedAt = performance.now();
  }

  receivedIn(room: string): readonly number[] {
    return this.received.get(room) ?? [];
  }

  /** Sends a join or leave; undefined when the client refused it. */
  send(kind: 'join' | 'leave', room: string): SentOp | undefined {
    const op: SentOp = {
      j: this.ops.length + 1,
      kind,
      room,
      sentAt: nowUs(),
      answeredBy: new Set(),
    };
    try {
      this.client.send({ op: kind, room, j: op.j });
    } catch (error) {
      this.problems.push(`send refused: ${String(error)}`);
      return undefined;
    }
    this.ops.push(op);
    return op;
  }

  /** Sends a join or leave and waits (at most `timeoutMs`) for the node's answer. */
  async op(kind: 'join' | 'leave', room: string, timeoutMs: number): Promise<boolean> {
    const op = this.send(kind, room);
    if (!op) return false;
    return waitFor(() => op.answeredAt !== undefined, { timeoutMs, intervalMs: 20 }).then(
      () => true,
      () => false,
    );
  }
}

/** One broadcast the test asked a node for, and what the node said about it. */
interface BroadcastRecord {
  readonly b: number;
  readonly room: string;
  readonly node: string;
  readonly sentAt: number;
  callAt?: number;
  storedAt?: number;
  id?: string;
  failed?: string;
}

/** What the nodes reported about one member's operation. */
interface OpReports {
  readonly calls: number[];
  readonly joined: JoinedReport[];
  readonly failed: string[];
}

export class RoomCluster {
  readonly nodes: Array<RoomNodeProcess | undefined> = [];
  readonly members: RoomMember[] = [];
  readonly broadcasts = new Map<number, BroadcastRecord>();
  readonly sessions = { new: 0, moved: 0 };
  /** Resumes on the node that already served the session, and on one it moved to. */
  readonly resumes = { local: 0, moved: 0 };
  /** What the nodes said about each member's session, in order, for the examples. */
  readonly sessionEvents = new Map<number, string[]>();
  readonly nodeErrors: string[] = [];
  /** What the test did and when, with ms since the cluster started. */
  readonly steps: string[] = [];
  readonly #ops = new Map<string, OpReports>();
  #lastB = 0;
  #publishing = false;
  #publisher: Promise<void> | undefined;
  /** How long broadcasts were being made, in ms (all periods added up). */
  publishingMs = 0;
  readonly #startedAt = performance.now();
  readonly #startedAtUs = nowUs();

  private constructor(
    readonly options: RoomClusterOptions,
    readonly redis: RedisServer,
    readonly balancer: CuttingBalancer,
  ) {}

  /** Starts Redis, the nodes and the balancer. Close it with {@link close} (also on failure). */
  static async start(options: RoomClusterOptions): Promise<RoomCluster> {
    const redis = await startRedis();
    let cluster: RoomCluster | undefined;
    try {
      const balancer = await CuttingBalancer.start(() => cluster?.liveTargets() ?? [], {
        steer: options.resumeElsewhere ?? true,
      });
      const self = new RoomCluster(options, redis, balancer);
      cluster = self;
      await Promise.all(Array.from({ length: options.nodes }, (_, i) => self.start(i)));
      return self;
    } catch (error) {
      if (cluster) await cluster.close();
      else await redis.stop();
      throw error;
    }
  }

  get settings(): RoomNodeSettings {
    const { probeIntervalMs, probeTimeoutMs, sessionTtlMs, endedTtlMs, heartbeatMs } = this.options;
    const { operationTimeoutMs } = this.options;
    return {
      redisUrl: this.redis.url,
      probeIntervalMs,
      probeTimeoutMs,
      sessionTtlMs,
      ...(endedTtlMs !== undefined && { endedTtlMs }),
      ...(heartbeatMs !== undefined && { heartbeatMs }),
      ...(operationTimeoutMs !== undefined && { operationTimeoutMs }),
    };
  }

  /** ms since the cluster started. */
  get elapsedMs(): number {
    return Math.round(performance.now() - this.#startedAt);
  }

  step(what: string): void {
    this.steps.push(`${this.elapsedMs} ms ${what}`);
  }

  /** Ports of the nodes that serve: a terminating node gets no new connections. */
  liveTargets(): number[] {
    return this.nodes.flatMap((node) => (node?.state === 'running' ? [node.port] : []));
  }

  node(i: number): RoomNodeProcess {
    const node = this.nodes[i];
    if (!node) throw new Error(`room cluster: no node in slot ${i}`);
    return node;
  }

  /** Starts a new node process in slot `i` (empty, or its node exited). */
  async start(i: number): Promise<RoomNodeProcess> {
    const old = this.nodes[i];
    if (old && old.state !== 'exited') throw new Error(`room cluster: node ${i} is ${old.state}`);
    const node = await RoomNodeProcess.start(this.settings, (report) => this.#onReport(report));
    this.nodes[i] = node;
    this.step(`node ${i} started as ${node.nodeId}`);
    return node;
  }

  /** SIGKILL: the node dies at once, mid-whatever. Resolves once it has exited. */
  async kill9(i: number): Promise<Exit> {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGKILL`);
    return this.node(i).end('SIGKILL');
  }

  /** SIGTERM, as a deploy does (server.close()); resolves with how the node exited. */
  async terminate(i: number): Promise<Exit> {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGTERM`);
    const exit = await this.node(i).end('SIGTERM');
    this.step(`node ${i} exited (${exit.code ?? exit.signal})`);
    return exit;
  }

  /** Resets about `fraction` of the members' connections at the balancer. */
  cut(fraction: number, random: () => number): number {
    const cut = this.balancer.cut(fraction, random);
    this.step(`${cut} connections cut`);
    return cut;
  }

  /** Adds `count` members through the balancer; resolves once every one has its session. */
  async addMembers(count: number, timeoutMs = 60_000): Promise<RoomMember[]> {
    const added: RoomMember[] = [];
    for (let start = 0; start < count; start += OPEN_BATCH) {
      const batch: RoomMember[] = [];
      for (let i = start; i < Math.min(count, start + OPEN_BATCH); i++) {
        const m = this.members.length;
        const client = new ProbeClient<MemberInbound, MemberCommand>(this.balancer.url(`/m/${m}`), {
          auth: { m } satisfies MemberAuth,
          reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
          ...(this.options.memberAckDelayMs !== undefined && {
            ackDelayMs: this.options.memberAckDelayMs,
          }),
        });
        const member = new RoomMember(m, client, (what) => this.memberEvent(m, what));
        this.members.push(member);
        batch.push(member);
      }
      await this.waitOpen(batch, timeoutMs);
      added.push(...batch);
    }
    this.step(`${added.length} members open`);
    return added;
  }

  /** Resolves once each of `members` has its session open, or throws after `timeoutMs`. */
  async waitOpen(members: readonly RoomMember[] = this.members, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => members.every((m) => m.client.state === 'open'), {
      timeoutMs,
      intervalMs: 50,
      message: `${members.length} members open`,
    }).catch((error: Error) => {
      const problems = members
        .filter((m) => m.client.state !== 'open')
        .slice(0, 3)
        .map(
          (m) =>
            `${m.index}: ${m.problems.join(', ')} [${this.sessionEvents.get(m.index)?.join(', ')}]`,
        );
      throw new Error(`${error.message}: ${describeStates(members)}; ${problems.join('; ')}`, {
        cause: error.cause,
      });
    });
  }

  /**
   * Has a random live node broadcast `{ room, b }`, b = 1, 2, 3…, `perSecond` times a second,
   * to each of `rooms` in turn.
   */
  startPublishing(
    rooms: string | readonly string[],
    perSecond: number,
    random: () => number,
  ): void {
    if (this.#publishing) return;
    this.#publishing = true;
    const names = typeof rooms === 'string' ? [rooms] : [...rooms];
    this.step(`publishing to ${names.join(', ')}`);
    const tickMs = 1000 / perSecond;
    const from = performance.now();
    const until = from + MAX_PUBLISHING_MS;
    this.#publisher = (async () => {
      let next = performance.now();
      while (this.#publishing && performance.now() < until) {
        const live = this.nodes.filter((node) => node?.state === 'running');
        const node = live[Math.floor(random() * live.length)];
        if (node) {
          const b = ++this.#lastB;
          const room = names[b % names.length]!;
          this.broadcasts.set(b, { b, room, node: node.nodeId, sentAt: nowUs() });
          node.broadcast({ broadcast: b, room });
        }
        // Keep the rate when a tick comes late, but never make up more than a second.
        next = Math.max(next + tickMs, performance.now() - 1000);
        await sleep(Math.max(0, next - performance.now()));
      }
      this.publishingMs += performance.now() - from;
    })();
  }

  async stopPublishing(): Promise<void> {
    if (!this.#publisher) return;
    this.#publishing = false;
    await this.#publisher;
    this.#publisher = undefined;
    this.step('publishing stopped');
  }

  /** The broadcasts to `room`, as the ledger takes them. */
  ledgerBroadcasts(room: string): Map<number, Broadcast> {
    const map = new Map<number, Broadcast>();
    for (const record of this.broadcasts.values()) {
      if (record.room !== room) continue;
      map.set(record.b, {
        b: record.b,
        from: record.callAt ?? record.sentAt,
        stored: record.storedAt,
      });
    }
    return map;
  }

  /** Broadcasts to `room` whose append returned. */
  stored(room: string): number[] {
    return [...this.broadcasts.values()]
      .filter((record) => record.room === room && record.storedAt !== undefined)
      .map((record) => record.b);
  }

  /**
   * Every operation of `member` on `room`, with what the nodes reported about it, as the
   * ledger takes it.
   */
  history(member: RoomMember, room: string): MemberHistory {
    const ops: MemberOp[] = member.ops
      .filter((op) => op.room === room)
      .map((op) => {
        const reports = this.#ops.get(`${member.index}:${op.j}`);
        const confirmed = (reports?.joined ?? [])
          .filter((r) => r.member && r.state !== 'closed' && op.answeredBy.has(r.node))
          .map((r) => r.at);
        return {
          j: op.j,
          kind: op.kind,
          sentAt: op.sentAt,
          calls: reports?.calls ?? [],
          confirmed,
          answeredAt: op.answeredAt,
        };
      });
    return {
      member: member.index,
      ops,
      received: member.receivedIn(room),
      outages: member.outages,
    };
  }

  /**
   * What happened to member `m` and its operations on `room`, in ms since the cluster started:
   * for the examples of a failure.
   */
  describeMember(m: number, room: string): string {
    const ms = (us: number | undefined) =>
      us === undefined || !Number.isFinite(us) ? '-' : Math.round((us - this.#startedAtUs) / 1000);
    const member = this.members[m];
    const history = member ? this.history(member, room) : undefined;
    const ops = (history?.ops ?? []).map(
      (op) =>
        `${op.kind} ${op.j} sent ${ms(op.sentAt)} calls [${op.calls.map(ms).join(' ')}] ` +
        `confirmed [${op.confirmed.map(ms).join(' ')}] answered ${ms(op.answeredAt)}`,
    );
    const outages = (history?.outages ?? []).map(([from, to]) => `${ms(from)}-${ms(to)}`);
    return (
      `member ${m}: ops {${ops.join('; ')}} outages [${outages.join(' ')}] ` +
      `sessions [${this.sessionEvents.get(m)?.join(', ') ?? ''}]`
    );
  }

  /** The broadcast `b` as the test knows it, in ms since the cluster started. */
  describeBroadcast(b: number): string {
    const record = this.broadcasts.get(b);
    if (!record) return `b=${b}: never broadcast`;
    const ms = (us: number | undefined) =>
      us === undefined ? '-' : Math.round((us - this.#startedAtUs) / 1000);
    return (
      `b=${b} on ${record.node}: sent ${ms(record.sentAt)} called ${ms(record.callAt)} ` +
      `stored ${ms(record.storedAt)}${record.failed ? ` failed ${record.failed}` : ''}`
    );
  }

  /**
   * Joins that resolved although the session was no longer served there (`closed`) or was
   * not a member right after (`notMember`).
   */
  joinsWithoutEffect(): { closed: number; notMember: number } {
    const counts = { closed: 0, notMember: 0 };
    for (const reports of this.#ops.values()) {
      for (const r of reports.joined) {
        if (r.state === 'closed') counts.closed++;
        else if (!r.member) counts.notMember++;
      }
    }
    return counts;
  }

  joinsFailed(): string[] {
    return [...this.#ops.values()].flatMap((reports) => reports.failed);
  }

  /** Entries in the room's stream now (0 when it does not exist). */
  async streamLength(room: string): Promise<number> {
    return Number(await this.redis.command('XLEN', `probe:room:{${room}}`));
  }

  /**
   * The room's stream as Redis holds it: the broadcast number of every entry, in stream order
   * (the room order). Payloads are read as hex by a script, then decoded as Probe does.
   */
  async readStream(room: string): Promise<number[]> {
    const reply = await this.redis.command('EVAL', READ_STREAM, 1, `probe:room:{${room}}`);
    const flat = Array.isArray(reply) ? reply.map(String) : [];
    const order: number[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const payload = Uint8Array.from(Buffer.from(flat[i + 1]!, 'hex')) as EncodedPayload;
      const data = decodeMessageData(encodeMessageWithPayload(1, payload)) as RoomMessage;
      order.push(data.b);
    }
    return order;
  }

  /** Stops everything: members, nodes (SIGKILL), balancer, Redis. Safe to call twice. */
  async close(): Promise<void> {
    await this.stopPublishing();
    for (const { client } of this.members) {
      client.removeAllListeners();
      client.close();
    }
    await Promise.all(this.nodes.map((node) => node?.end('SIGKILL', 10_000)));
    await this.balancer.close();
    await this.redis.stop();
  }

  /** Notes what happened to member `m`'s session, with ms since the cluster started. */
  memberEvent(m: number, what: string): void {
    let events = this.sessionEvents.get(m);
    if (!events) {
      events = [];
      this.sessionEvents.set(m, events);
    }
    events.push(`${this.elapsedMs} ms ${what}`);
  }

  #opReports(m: number, j: number): OpReports {
    const key = `${m}:${j}`;
    let reports = this.#ops.get(key);
    if (!reports) {
      reports = { calls: [], joined: [], failed: [] };
      this.#ops.set(key, reports);
    }
    return reports;
  }

  #onReport(report: RoomNodeReport): void {
    if ('joinCall' in report) this.#opReports(report.joinCall, report.j).calls.push(report.at);
    else if ('joined' in report) this.#opReports(report.joined, report.j).joined.push(report);
    else if ('joinFailed' in report) {
      this.#opReports(report.joinFailed, report.j).failed.push(`${report.node}: ${report.error}`);
    } else if ('left' in report) this.#opReports(report.left, report.j).calls.push(report.at);
    else if ('publishCall' in report) {
      const record = this.broadcasts.get(report.publishCall);
      if (record) record.callAt = report.at;
    } else if ('published' in report) {
      const record = this.broadcasts.get(report.published);
      if (record) {
        record.storedAt = report.at;
        record.id = report.id;
      }
    } else if ('publishFailed' in report) {
      const record = this.broadcasts.get(report.publishFailed);
      if (record) record.failed = report.error;
    } else if ('session' in report) {
      if (report.moved) this.sessions.moved++;
      else this.sessions.new++;
      this.memberEvent(report.m, `${report.moved ? 'moved to' : 'opened on'} ${report.node}`);
    } else if ('resumed' in report) {
      if (report.local) this.resumes.local++;
      else this.resumes.moved++;
      this.memberEvent(
        report.resumed,
        `resumed ${report.local ? 'locally ' : ''}on ${report.node}`,
      );
    } else if ('suspended' in report) {
      this.memberEvent(report.suspended, `suspended on ${report.node} (${report.reason})`);
    } else if ('error' in report) {
      this.nodeErrors.push(`${report.node}: ${report.error}`);
    }
  }
}

/** KEYS[1]: a room's stream → id, payload as hex, id, payload as hex, … in stream order. */
const READ_STREAM = `local out = {}
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'p' then
      out[#out + 1] = entry[1]
      out[#out + 1] = (string.gsub(fields[i + 1], '.', function(c)
        return string.format('%02x', string.byte(c))
      end))
    end
  end
end
return out`;

export function describeStates(members: readonly RoomMember[]): string {
  const counts: Record<string, number> = {};
  for (const { client } of members) counts[client.state] = (counts[client.state] ?? 0) + 1;
  return JSON.stringify(counts);
}
