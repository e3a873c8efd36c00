// The processes of the room suite: Probe server nodes (room-node.ts) and a process of members
// that can be killed outright (member-process.ts). Both are forked through tsx and import the
// built packages, as an application does.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Exit, forkChild } from './children.js';
import type { MemberProcessReport, MemberProcessSettings } from './member-process.js';
import type {
  BroadcastCommand,
  RoomNodeReport,
  RoomNodeSettings,
  RoomReadyReport,
} from './room-reports.js';

const NODE_ENTRY = fileURLToPath(new URL('./room-node.ts', import.meta.url));
const MEMBERS_ENTRY = fileURLToPath(new URL('./member-process.ts', import.meta.url));

export type { Exit } from './children.js';

/**
 * Forks `entry` with `settings` as JSON in argv, passes every IPC message to `onMessage`, and
 * resolves with the child and its first message that `ready` accepts.
 * @throws {Error} when the child exits or is not ready within `timeoutMs`.
 */
async function forkReady<Report, Ready extends Report>(
  entry: string,
  settings: unknown,
  onMessage: (message: Report) => void,
  ready: (message: Report) => message is Ready,
  timeoutMs: number,
): Promise<{ child: ChildProcess; ready: Ready; exited: Promise<Exit> }> {
  const { child, exited } = forkChild(
    entry,
    [JSON.stringify(settings)],
    ['@probe/server', '@probe/redis', '@probe/client'],
  );
  // A command sent as the process dies fails with EPIPE: that is no error of the test's.
  child.on('error', () => {});
  child.on('message', (message: Report) => onMessage(message));
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = await Promise.race([
      new Promise<Ready>((resolve) => {
        const onReady = (message: Report) => {
          if (!ready(message)) return;
          child.off('message', onReady);
          resolve(message);
        };
        child.on('message', onReady);
      }),
      exited.then(({ code, signal }): never => {
        throw new Error(`${entry} exited before it was ready (code ${code}, ${signal})`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${entry} not ready within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return { child, ready: first, exited };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` to `child` and waits (at most `timeoutMs`) for `exited`. */
async function endChild(
  child: ChildProcess,
  exited: Promise<Exit>,
  signal: 'SIGKILL' | 'SIGTERM',
  timeoutMs: number,
): Promise<Exit> {
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`pid ${child.pid}: no exit ${timeoutMs} ms after ${signal}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `running` serves; `terminating` got SIGTERM and is closing; `exited` is gone. */
export type RoomNodeState = 'running' | 'terminating' | 'exited';

/** One Probe server node (room-node.ts) in its own process. */
export class RoomNodeProcess {
  state: RoomNodeState = 'running';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly nodeId: string,
    readonly exited: Promise<Exit>,
  ) {
    void exited.then(() => {
      this.state = 'exited';
    });
  }

  /** Forks a node and resolves once it listens; every report it sends goes to `onReport`. */
  static async start(
    settings: RoomNodeSettings,
    onReport: (report: RoomNodeReport) => void,
    timeoutMs = 30_000,
  ): Promise<RoomNodeProcess> {
    const { child, ready, exited } = await forkReady(
      NODE_ENTRY,
      settings,
      onReport,
      (report): report is RoomReadyReport => 'ready' in report,
      timeoutMs,
    );
    return new RoomNodeProcess(child, ready.port, ready.nodeId, exited);
  }

  /**
   * Tells the node to broadcast. @returns false when the message could not be handed to the
   * IPC channel (the process is gone or going).
   */
  broadcast(command: BroadcastCommand): boolean {
    if (this.state !== 'running' || !this.child.connected) return false;
    try {
      return this.child.send(command);
    } catch {
      return false;
    }
  }

  /** Sends `signal` and waits (at most `timeoutMs`) for the exit. */
  async end(signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    if (this.state === 'exited') return this.exited;
    if (signal === 'SIGTERM') this.state = 'terminating';
    return endChild(this.child, this.exited, signal, timeoutMs);
  }
}

/** A process of members (member-process.ts), to be killed without their closing anything. */
export class MemberProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly members: number,
    readonly exited: Promise<Exit>,
  ) {}

  /** Forks the members and resolves once every one of them joined its rooms. */
  static async start(settings: MemberProcessSettings, timeoutMs = 60_000): Promise<MemberProcess> {
    const problems: string[] = [];
    const { child, ready, exited } = await forkReady<
      MemberProcessReport,
      Extract<MemberProcessReport, { joined: number }>
    >(
      MEMBERS_ENTRY,
      settings,
      (report) => {
        if ('problem' in report) problems.push(report.problem);
      },
      (report): report is Extract<MemberProcessReport, { joined: number }> => 'joined' in report,
      timeoutMs,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; member problems: ${problems.slice(0, 5).join('; ')}`);
    });
    return new MemberProcess(child, ready.joined, exited);
  }

  /** SIGKILL: every member's connection goes with the process, nothing is closed. */
  kill(timeoutMs = 30_000): Promise<Exit> {
    return endChild(this.child, this.exited, 'SIGKILL', timeoutMs);
  }
}
