import type { Heartbeat, SharedStore, SystemName } from '../systems/index.js';
import { Child } from './child.js';
import { withTimeout } from './time.js';

export interface ServerChild {
  readonly child: Child;
  readonly port: number;
  readonly url: string;
  /** Closes the server (Probe with a shared store: hands its sessions over), then exits. */
  stop(): Promise<void>;
  /** SIGKILL: the node dies at once, without closing anything; resolves once it is gone. */
  kill(): Promise<void>;
}

export interface ServerChildOptions {
  /** Redis for the shared systems. */
  shared?: SharedStore;
  /** Echo every message to its sender (default true). */
  echo?: boolean;
  /** Event log of the node (see src/child/server.ts). */
  logFile?: string;
}

/** Starts `system`'s server in its own process. */
export async function startServerChild(
  system: SystemName,
  scenario: string,
  heartbeat?: Heartbeat,
  options: ServerChildOptions = {},
): Promise<ServerChild> {
  const child = new Child('server', [system], `server-${scenario}-${system}`);
  try {
    const { port } = await child.call<{ port: number }>(
      'start',
      { system, heartbeat, ...options },
      20_000,
    );
    return {
      child,
      port,
      url: `ws://127.0.0.1:${port}/`,
      async stop() {
        await child.call('close', {}, 15_000).catch(() => {});
        await child.stop();
      },
      async kill() {
        child.process.kill('SIGKILL');
        await withTimeout(child.exitedPromise, 10_000, 'killed node to exit');
      },
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
