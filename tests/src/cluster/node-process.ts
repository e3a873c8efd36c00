import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Exit, forkChild } from './children.js';
import type { NodeReport, ReadyReport } from './reports.js';

export type { Exit } from './children.js';

const NODE_ENTRY = fileURLToPath(new URL('./node.ts', import.meta.url));

export interface NodeSettings {
  readonly redisUrl: string;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly sessionTtlMs: number;
}

/**
 * How the process stands: `running` serves, `stopped` is frozen by SIGSTOP, `terminating`
 * got SIGTERM and is closing, `exited` is gone.
 */
export type NodeState = 'running' | 'stopped' | 'terminating' | 'exited';

/** One Probe server node (tests/src/cluster/node.ts) in its own process. */
export class NodeProcess {
  state: NodeState = 'running';
  /** Resolves when the process has exited. */
  readonly exited: Promise<Exit>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly nodeId: string,
    exited: Promise<Exit>,
  ) {
    this.exited = exited;
    void exited.then(() => {
      this.state = 'exited';
    });
  }

  /**
   * Forks a node and resolves once it listens. Every report it sends goes to `onReport`.
   * @throws {Error} when it exits or is not ready within `timeoutMs`.
   */
  static async start(
    settings: NodeSettings,
    onReport: (report: NodeReport) => void,
    timeoutMs = 30_000,
  ): Promise<NodeProcess> {
    const args = [
      settings.redisUrl,
      String(settings.probeIntervalMs),
      String(settings.probeTimeoutMs),
      String(settings.sessionTtlMs),
    ];
    const { child, exited } = forkChild(NODE_ENTRY, args, ['@probe/server', '@probe/redis']);
    child.on('message', (message: NodeReport) => onReport(message));
    const exitedEarly = exited.then(({ code, signal }): never => {
      throw new Error(`cluster node exited before it was ready (code ${code}, ${signal})`);
    });
    // Once ready, a later exit is no error here.
    exitedEarly.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    try {
      const ready = await Promise.race([
        new Promise<ReadyReport>((resolve) => {
          const onReady = (message: NodeReport) => {
            if (!('ready' in message)) return;
            child.off('message', onReady);
            resolve(message);
          };
          child.on('message', onReady);
        }),
        exitedEarly,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`cluster node not ready within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return new NodeProcess(child, ready.port, ready.nodeId, exited);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` and waits (at most `timeoutMs`) for the exit. */
  async end(signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    if (this.state === 'exited') return this.exited;
    if (signal === 'SIGTERM') this.state = 'terminating';
    // A frozen process acts on SIGTERM only once it runs again.
    this.child.kill(signal);
    if (signal === 'SIGTERM') this.child.kill('SIGCONT');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`cluster node ${this.nodeId}: no exit ${timeoutMs} ms after ${signal}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGSTOP: the process freezes with its sockets open, as a node in a long GC pause. */
  freeze(): void {
    if (this.state !== 'running') return;
    this.child.kill('SIGSTOP');
    this.state = 'stopped';
  }

  /** SIGCONT: a frozen process runs again. */
  thaw(): void {
    if (this.state !== 'stopped') return;
    this.child.kill('SIGCONT');
    this.state = 'running';
  }
}
