import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { NodeReport, ReadyReport } from './reports.js';

const require = createRequire(import.meta.url);
const NODE_ENTRY = fileURLToPath(new URL('./node.ts', import.meta.url));

/** Node processes still alive, killed when the test process ends. */
const live = new Set<ChildProcess>();
let hooked = false;

/**
 * SIGKILL every node on exit, and on SIGINT/SIGTERM/SIGHUP, which skip 'exit' (a test runner
 * stops its workers with SIGTERM). A node that is not stopped also exits when the IPC channel
 * closes; a SIGSTOPped one needs this.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      // Ours was the only handler: let the signal do what it would have done without it.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/**
 * The tsx loader, after checking that the packages node.ts imports are there and built: it
 * imports them as an application does, from their dist.
 */
function preflight(): string {
  for (const name of ['@probe/server', '@probe/redis']) {
    const dir = fileURLToPath(new URL(`../../node_modules/${name}/`, import.meta.url));
    if (!existsSync(dir)) {
      throw new Error(`cluster node: ${name} is not a dependency of @probe/tests (${dir})`);
    }
    if (!existsSync(`${dir}dist`)) {
      throw new Error(`cluster node: ${name} is not built: run pnpm turbo run build`);
    }
  }
  try {
    return pathToFileURL(require.resolve('tsx')).href;
  } catch (error) {
    throw new Error('cluster node: tsx is not a devDependency of @probe/tests', { cause: error });
  }
}

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

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

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
    const tsx = preflight();
    hookExit();
    const args = [
      settings.redisUrl,
      String(settings.probeIntervalMs),
      String(settings.probeTimeoutMs),
      String(settings.sessionTtlMs),
    ];
    const child = fork(NODE_ENTRY, args, {
      execArgv: ['--import', tsx],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(child);
    const exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      });
    });
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
