import { type OpenInfo, ProbeClient, type ProbeClientOptions } from '@probe/client';
import type { Session } from '@probe/server';
import { createFaultProxy, type FaultProxy } from '@probe/testkit';
import { Duplex } from '../streams.js';

/** One client with its own fault proxy (so refusing reconnects hits this client only). */
export class Lane {
  readonly duplex: Duplex;
  /** A fault is running on this lane, or the lane has not resumed since the last one. */
  busy = false;
  /** Client 'disconnect' events: the client noticed a connection loss. */
  disconnects = 0;
  /** Server 'suspend' events: the server noticed a connection loss. */
  suspends = 0;
  /** Server 'session' events for this client: more than one means a session was lost. */
  sessions = 0;
  /** Sessions resumed, as the client saw them. */
  resumes = 0;
  /** Anything that must not happen (session lost, client closed, send failed…), with counts. */
  private readonly failureCounts = new Map<string, number>();

  constructor(
    readonly index: number,
    readonly proxy: FaultProxy,
    readonly client: ProbeClient,
  ) {
    // Plain messages, named events and requests with replies, both ways, in one sequence.
    this.duplex = new Duplex(client, true);
    client.on('disconnect', () => this.disconnects++);
    client.on('resume', () => this.resumes++);
    client.on('session-lost', (info) => this.fail(`session lost: ${info.reason}`));
    client.on('close', (info) => this.fail(`client closed: ${info.code} ${info.reason}`));
    client.on('error', (error) => this.fail(`client error: ${String(error)}`));
  }

  /** Opens a proxy in front of the server and a client behind it; `auth` carries the index. */
  static async open(index: number, serverPort: number, options: ProbeClientOptions): Promise<Lane> {
    const proxy = await createFaultProxy({ targetPort: serverPort });
    return new Lane(index, proxy, new ProbeClient(proxy.url('/'), { ...options, auth: index }));
  }

  /** Called for the server's 'session' event whose `data` is this lane's index. */
  bind(session: Session): void {
    this.sessions++;
    this.duplex.bind(session);
    session.on('suspend', () => this.suspends++);
    session.on('close', (reason) => this.fail(`session closed: ${reason}`));
  }

  /** Sends `count` numbered messages each way; failures are recorded, not thrown. */
  pump(count: number): void {
    try {
      this.duplex.pump(count);
    } catch (error) {
      this.fail(`send failed: ${String(error)}`);
    }
  }

  fail(what: string): void {
    this.failureCounts.set(what, (this.failureCounts.get(what) ?? 0) + 1);
  }

  /** What went wrong on this lane, each with how often (empty when all is well). */
  get failures(): string[] {
    return [...this.failureCounts].map(([what, n]) => (n > 1 ? `${what} (×${n})` : what));
  }

  /**
   * Resolves with the client's next 'open' (null after `timeoutMs`). Register it before the
   * step that lets the client back in, so the event cannot slip past.
   */
  nextOpen(timeoutMs: number): Promise<OpenInfo | null> {
    return new Promise((resolve) => {
      const done = (info: OpenInfo | null) => {
        clearTimeout(timer);
        this.client.off('open', done);
        this.client.off('close', closed);
        resolve(info);
      };
      // A closed client never opens again: no need to wait out the timeout.
      const closed = () => done(null);
      const timer = setTimeout(closed, timeoutMs);
      this.client.on('open', done);
      this.client.on('close', closed);
    });
  }

  async close(): Promise<void> {
    this.client.removeAllListeners('close');
    this.client.close();
    await this.proxy.close();
  }
}
