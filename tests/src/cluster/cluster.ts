// A Probe cluster on one machine: a real Redis, N server nodes in their own processes, a
// round-robin TCP balancer in front of them, and M clients that send numbered messages at a
// steady rate and check the echoes. Tests break nodes and Redis in the middle of it, settle,
// and read the figures: what was lost, duplicated without a mark, or reordered, both ways.

import { ProbeClient } from '@probe/client';
import {
  type Balancer,
  createBalancer,
  type RedisServer,
  sleep,
  startRedis,
  waitFor,
} from '@probe/testkit';
import { inBatches } from '../figures.js';
import {
  addDirection,
  type Delivery,
  type DirectionFigures,
  downFigures,
  type Echo,
  emptyDirection,
  upFigures,
} from './ledger.js';
import { type Exit, NodeProcess, type NodeSettings } from './node-process.js';
import type { EchoMessage, NodeReport, NumberedMessage } from './reports.js';

export interface ClusterOptions {
  readonly nodes: number;
  readonly clients: number;
  /** Messages each client sends per second while traffic runs. */
  readonly ratePerSecond: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly sessionTtlMs: number;
}

/** Traffic stops by itself after this long, should a test forget to settle. */
const MAX_TRAFFIC_MS = 10 * 60_000;
/** After settling, reports must have been quiet this long (a thawed node may still speak). */
const QUIET_MS = 500;

/** One client of the cluster and everything it sent and got back. */
class ClusterClient {
  /** Messages sent: n = 1…sent. */
  sent = 0;
  readonly echoes: Echo[] = [];
  readonly echoed = new Set<number>();
  sessionLost = 0;
  /** Connections lost and sessions resumed, as the client saw them. */
  disconnects = 0;
  resumes = 0;
  /** What must not happen (a send refused, the client closed, an error), in order. */
  readonly problems: string[] = [];

  constructor(
    readonly index: number,
    readonly client: ProbeClient<EchoMessage, NumberedMessage>,
  ) {
    client.on('message', ({ echo, redelivered }) => {
      this.echoes.push({ n: echo, redelivered });
      this.echoed.add(echo);
    });
    client.on('disconnect', () => this.disconnects++);
    client.on('resume', () => this.resumes++);
    client.on('session-lost', (info) => {
      this.sessionLost++;
      this.problems.push(`session lost: ${info.reason}`);
    });
    client.on('close', (info) => this.problems.push(`closed: ${info.code} ${info.reason}`));
    client.on('error', (error) => this.problems.push(`error: ${String(error)}`));
  }

  sendNext(): void {
    if (this.client.state === 'closed') return;
    try {
      this.client.send({ c: this.index, n: this.sent + 1 });
      this.sent++;
    } catch (error) {
      this.problems.push(`send refused: ${String(error)}`);
    }
  }
}

/** Totals over every client; printed as one `[cluster]` line. */
export interface ClusterFigures {
  scenario: string;
  nodes: number;
  clients: number;
  /** Client → server, from the nodes' delivery reports. */
  up: DirectionFigures;
  /** Server → client, from the echoes the clients received. */
  down: DirectionFigures;
  /** Must be 0: every client keeps its one session throughout. */
  sessionLost: number;
  /** Sessions the nodes started: new ones (one per client) and ones that moved in. */
  sessions: { new: number; moved: number };
  /** Connections the clients lost, and resumes they made. */
  disconnects: number;
  resumes: number;
  /** Client problems other than session-lost, as a count and the first few. */
  clientProblems: number;
  firstProblems: string[];
  /** The nodes' 'error' events, as a count and the first few. */
  nodeErrors: number;
  firstNodeErrors: string[];
  /** A few unmarked duplicates and reorderings, described (empty when delivery was exact). */
  examples: string[];
  /** What the test did, with ms since the cluster started. */
  steps: string[];
  durationS: number;
}

export interface SettleResult {
  readonly ms: number;
  /** Clients still waiting for acknowledgements or echoes, described (empty when settled). */
  readonly unsettled: string[];
}

export class Cluster {
  readonly nodes: Array<NodeProcess | undefined> = [];
  readonly clients: ClusterClient[] = [];
  /** Delivery reports per client index, in arrival order (raw test clients included). */
  readonly deliveries = new Map<number, Delivery[]>();
  /** The distinct n delivered per client index. */
  readonly delivered = new Map<number, Set<number>>();
  readonly sessions = { new: 0, moved: 0 };
  readonly nodeErrors: string[] = [];
  /** What the test did and when; see {@link step}. */
  readonly steps: string[] = [];
  #sending = false;
  #traffic: Promise<void> | undefined;
  #lastReportAt = 0;
  readonly #startedAt = performance.now();

  private constructor(
    readonly options: ClusterOptions,
    readonly redis: RedisServer,
    readonly balancer: Balancer,
  ) {}

  /**
   * Starts Redis, the nodes, the balancer and the clients, and resolves once every client has
   * its session open. Close it with {@link close} (also on failure).
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const redis = await startRedis();
    let cluster: Cluster | undefined;
    try {
      const balancer = await createBalancer({ targets: () => cluster?.liveTargets() ?? [] });
      const self = new Cluster(options, redis, balancer);
      cluster = self;
      await Promise.all(Array.from({ length: options.nodes }, (_, i) => self.start(i)));
      await inBatches(options.clients, 50, async (i) => {
        const client = new ProbeClient<EchoMessage, NumberedMessage>(balancer.url('/'), {
          reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
        });
        self.clients[i] = new ClusterClient(i, client);
      });
      await self.waitAllOpen(30_000);
      return self;
    } catch (error) {
      if (cluster) await cluster.close();
      else await redis.stop();
      throw error;
    }
  }

  get settings(): NodeSettings {
    const { probeIntervalMs, probeTimeoutMs, sessionTtlMs } = this.options;
    return { redisUrl: this.redis.url, probeIntervalMs, probeTimeoutMs, sessionTtlMs };
  }

  /** Notes `what` with the time since the cluster started, for the figures. */
  step(what: string): void {
    this.steps.push(`${Math.round(performance.now() - this.#startedAt)} ms ${what}`);
  }

  /** Ports of the nodes that serve: a frozen or terminating node gets no new connections. */
  liveTargets(): number[] {
    return this.nodes.flatMap((node) => (node?.state === 'running' ? [node.port] : []));
  }

  /** The node in slot `i`. @throws {Error} when the slot is empty. */
  node(i: number): NodeProcess {
    const node = this.nodes[i];
    if (!node) throw new Error(`cluster: no node in slot ${i}`);
    return node;
  }

  /** Starts a new node process in slot `i` (empty, or its node exited). */
  async start(i: number): Promise<NodeProcess> {
    const old = this.nodes[i];
    if (old && old.state !== 'exited') throw new Error(`cluster: node ${i} is still ${old.state}`);
    const node = await NodeProcess.start(this.settings, (report) => this.#onReport(report));
    this.nodes[i] = node;
    this.step(`node ${i} started as ${node.nodeId}`);
    return node;
  }

  /** SIGKILL: the node dies at once, mid-whatever. Resolves once it has exited. */
  async kill9(i: number): Promise<Exit> {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGKILL`);
    return this.node(i).end('SIGKILL');
  }

  /** SIGSTOP: the node freezes with its connections open. */
  stop(i: number): void {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGSTOP`);
    this.node(i).freeze();
  }

  /** SIGCONT: a frozen node runs again. */
  cont(i: number): void {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGCONT`);
    this.node(i).thaw();
  }

  /** SIGTERM, as a deploy does; resolves with how the node exited (code 0 when it closed well). */
  async terminate(i: number): Promise<Exit> {
    this.step(`node ${i} (${this.node(i).nodeId}) SIGTERM`);
    const exit = await this.node(i).end('SIGTERM');
    this.step(`node ${i} exited (${exit.code ?? exit.signal})`);
    return exit;
  }

  /** Every client sends one numbered message per 1/rate s until {@link settle}. */
  startTraffic(): void {
    if (this.#sending) return;
    this.#sending = true;
    this.step('traffic on');
    const tickMs = 1000 / this.options.ratePerSecond;
    const until = performance.now() + MAX_TRAFFIC_MS;
    this.#traffic = (async () => {
      let next = performance.now();
      while (this.#sending && performance.now() < until) {
        for (const client of this.clients) client.sendNext();
        // Keep the rate when a tick comes late, but never make up more than a second.
        next = Math.max(next + tickMs, performance.now() - 1000);
        await sleep(Math.max(0, next - performance.now()));
      }
    })();
  }

  async stopTraffic(): Promise<void> {
    this.#sending = false;
    await this.#traffic;
    this.#traffic = undefined;
  }

  /** Resolves once every client's session is open, or throws after `timeoutMs`. */
  async waitAllOpen(timeoutMs: number): Promise<void> {
    await waitFor(() => this.clients.every((c) => c.client.state === 'open'), {
      timeoutMs,
      intervalMs: 50,
      message: `all ${this.clients.length} clients open`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}: ${this.describeStates()}`, { cause: error.cause });
    });
    this.step('all clients open');
  }

  describeStates(): string {
    const counts: Record<string, number> = {};
    for (const { client } of this.clients) counts[client.state] = (counts[client.state] ?? 0) + 1;
    return JSON.stringify(counts);
  }

  /**
   * Stops the traffic and waits (at most `timeoutMs`) until every client has had every
   * message acknowledged, delivered and echoed, then until the nodes' reports have gone quiet.
   */
  async settle(timeoutMs = 60_000): Promise<SettleResult> {
    const from = performance.now();
    await this.stopTraffic();
    this.step('traffic off');
    const done = (c: ClusterClient) =>
      c.client.buffered.messages === 0 &&
      c.echoed.size >= c.sent &&
      (this.delivered.get(c.index)?.size ?? 0) >= c.sent;
    await waitFor(() => this.clients.every(done), { timeoutMs, intervalMs: 50 }).catch(() => {});
    await waitFor(() => performance.now() - this.#lastReportAt >= QUIET_MS, {
      timeoutMs: 10 * QUIET_MS,
      intervalMs: 50,
    }).catch(() => {});
    const unsettled = this.clients.filter((c) => !done(c));
    this.step(unsettled.length ? `${unsettled.length} clients not settled` : 'settled');
    return {
      ms: Math.round(performance.now() - from),
      unsettled: unsettled
        .slice(0, 10)
        .map(
          (c) =>
            `client ${c.index}: ${c.client.state}, sent ${c.sent}, ` +
            `unacknowledged ${c.client.buffered.messages}, ` +
            `delivered ${this.delivered.get(c.index)?.size ?? 0}, ` +
            `echoed ${c.echoed.size}`,
        ),
    };
  }

  /** The figures so far, printed as one `[cluster] {…}` line. */
  figures(scenario: string): ClusterFigures {
    const up = emptyDirection();
    const down = emptyDirection();
    const problems: string[] = [];
    let sessionLost = 0;
    let disconnects = 0;
    let resumes = 0;
    const examples: string[] = [];
    for (const c of this.clients) {
      disconnects += c.disconnects;
      resumes += c.resumes;
      const upExamples: string[] = [];
      const downExamples: string[] = [];
      addDirection(up, upFigures(c.sent, this.deliveries.get(c.index) ?? [], upExamples));
      addDirection(down, downFigures(c.sent, c.echoes, downExamples));
      for (const text of [...upExamples, ...downExamples])
        examples.push(`client ${c.index}: ${text}`);
      sessionLost += c.sessionLost;
      problems.push(
        ...c.problems.filter((p) => !p.startsWith('session lost')).map((p) => `${c.index}: ${p}`),
      );
    }
    const figures: ClusterFigures = {
      scenario,
      nodes: this.options.nodes,
      clients: this.clients.length,
      up,
      down,
      sessionLost,
      sessions: { ...this.sessions },
      disconnects,
      resumes,
      clientProblems: problems.length,
      firstProblems: problems.slice(0, 5),
      nodeErrors: this.nodeErrors.length,
      firstNodeErrors: this.nodeErrors.slice(0, 5),
      examples: examples.slice(0, 10),
      steps: [...this.steps],
      durationS: Math.round((performance.now() - this.#startedAt) / 100) / 10,
    };
    console.log(`[cluster] ${JSON.stringify(figures)}`);
    return figures;
  }

  /** Stops everything: clients, nodes (SIGKILL), balancer, Redis. Safe to call twice. */
  async close(): Promise<void> {
    await this.stopTraffic();
    for (const { client } of this.clients) {
      client.removeAllListeners();
      client.close();
    }
    await Promise.all(this.nodes.map((node) => node?.end('SIGKILL', 10_000)));
    await this.balancer.close();
    await this.redis.stop();
  }

  #onReport(report: NodeReport): void {
    this.#lastReportAt = performance.now();
    if ('delivered' in report) {
      const { delivered: c, n, redelivered, node, at } = report;
      const list = this.deliveries.get(c) ?? [];
      const unique = this.delivered.get(c) ?? new Set<number>();
      this.deliveries.set(c, list);
      this.delivered.set(c, unique);
      list.push({ n, redelivered, node, at });
      unique.add(n);
    } else if ('session' in report) {
      if (report.moved) this.sessions.moved++;
      else this.sessions.new++;
    } else if ('error' in report) {
      this.nodeErrors.push(`${report.node}: ${report.error}`);
    }
  }
}
