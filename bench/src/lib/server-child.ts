import type { Heartbeat, SystemName } from '../systems/index.js';
import { Child } from './child.js';

export interface ServerChild {
  readonly child: Child;
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts `system`'s server in its own process. */
export async function startServerChild(
  system: SystemName,
  scenario: string,
  heartbeat?: Heartbeat,
): Promise<ServerChild> {
  const child = new Child('server', [system], `server-${scenario}-${system}`);
  try {
    const { port } = await child.call<{ port: number }>('start', { system, heartbeat }, 20_000);
    return {
      child,
      port,
      url: `ws://127.0.0.1:${port}/`,
      async stop() {
        await child.call('close', {}, 15_000).catch(() => {});
        await child.stop();
      },
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}
