import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './time.js';

/** Every child started by this process, so none outlives it. */
const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
export type ChildEvent = { event: string; [key: string]: unknown };

let profileCounter = 0;

/** A forked helper process (run through tsx) that answers commands over IPC. */
export class Child {
  readonly process: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  private readonly listeners = new Set<(event: ChildEvent) => void>();
  private exited = false;
  readonly exitedPromise: Promise<void>;

  /**
   * @param entry module under src/child/, e.g. 'server'
   * @param role names the process in CPU profile file names
   */
  constructor(entry: string, args: string[], role: string) {
    hookExit();
    const file = fileURLToPath(new URL(`../child/${entry}.ts`, import.meta.url));
    const execArgv = ['--import', import.meta.resolve('tsx'), '--expose-gc'];
    const profDir = process.env.BENCH_CPU_PROF;
    const profRoles = (process.env.BENCH_CPU_PROF_ROLES ?? 'server').split(',');
    if (profDir && (profRoles.includes(role.split('-')[0]!) || profRoles.includes('all'))) {
      // One directory per process: Node writes one profile per thread (tsx's loader runs on a
      // worker thread); the main thread's file name has thread id 0 (`.0.` before the sequence).
      profileCounter++;
      const dir = `${profDir}/${role}-${String(profileCounter).padStart(3, '0')}`;
      mkdirSync(dir, { recursive: true });
      execArgv.push('--cpu-prof', '--cpu-prof-dir', dir);
    }
    this.process = fork(file, args, {
      execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this.process);
    this.exitedPromise = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exited = true;
        live.delete(this.process);
        for (const { reject } of this.pending.values()) {
          reject(new Error(`${entry} child exited (code ${code}, signal ${signal})`));
        }
        this.pending.clear();
        resolve();
      });
    });
    this.process.on('message', (message: Reply | ChildEvent) => {
      if ('event' in message) {
        for (const listener of this.listeners) listener(message);
        return;
      }
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(message.error));
    });
  }

  onEvent(listener: (event: ChildEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends a command and waits at most `timeoutMs` for its answer. */
  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`child is gone (command ${cmd})`));
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.process.send({ id, cmd, args });
    });
    return withTimeout(answer, timeoutMs, `child command '${cmd}'`).catch((error: unknown) => {
      this.pending.delete(id);
      throw error;
    });
  }

  /**
   * Asks the child to exit (so a CPU profile gets written), then kills it if it has not
   * gone within `graceMs`.
   */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    try {
      this.process.send({ id: 0, cmd: 'exit', args: {} });
    } catch {
      // IPC channel already closed.
    }
    try {
      await withTimeout(this.exitedPromise, graceMs, 'child exit');
    } catch {
      this.process.kill('SIGKILL');
      await withTimeout(this.exitedPromise, 5_000, 'child kill').catch(() => {});
    }
  }
}
