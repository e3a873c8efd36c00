import { ProbeClient } from '@probe/client';
import type { ProbeServer, Session } from '@probe/server';
import { waitFor } from '@probe/testkit';
import { waitForState } from './harness.js';
import { Duplex } from './streams.js';

/**
 * A healthy session exchanging numbered messages both ways while something else goes on
 * beside it. It must lose, duplicate and reorder nothing, and keep its one session.
 */
export class Canary {
  private timer: ReturnType<typeof setInterval> | undefined;
  private sessions = 0;
  disconnects = 0;
  lost = 0;
  readonly errors: string[] = [];

  private constructor(readonly duplex: Duplex) {}

  /**
   * Connects a client with auth `name` and starts pumping one message each way every
   * `everyMs`. The server must hand `auth` through as `session.data`.
   */
  static async start(
    server: ProbeServer,
    url: string,
    everyMs = 20,
    name = 'canary',
  ): Promise<Canary> {
    const client = new ProbeClient(url, {
      auth: name,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    const canary = new Canary(new Duplex(client));
    server.on('session', (session: Session) => {
      if (session.data !== name) return;
      canary.sessions++;
      canary.duplex.bind(session);
    });
    client.on('disconnect', () => canary.disconnects++);
    client.on('session-lost', () => canary.lost++);
    await waitForState(client, 'open', 10_000);
    await waitFor(() => canary.duplex.session, { message: 'canary session' });
    canary.timer = setInterval(() => {
      try {
        canary.duplex.pump(1);
      } catch (error) {
        // A closed session or a full queue: reported by finish(), not thrown from a timer.
        canary.errors.push(String(error));
      }
    }, everyMs);
    return canary;
  }

  /** Stops pumping and closes the client without waiting (for cleanup after a failure). */
  stop(): void {
    clearInterval(this.timer);
    this.duplex.client.close();
  }

  /** Stops pumping, waits for everything sent to arrive, and returns the verdicts. */
  async finish(timeoutMs = 15_000) {
    clearInterval(this.timer);
    // One more each way, so even a short test has the canary exchange something.
    this.duplex.pump(1);
    const { client } = this.duplex;
    await waitFor(() => client.state === 'open' && this.duplex.complete, {
      timeoutMs,
      message: 'canary caught up',
    }).catch(() => undefined);
    const figures = {
      up: this.duplex.up.verdict(),
      down: this.duplex.down.verdict(),
      sessions: this.sessions,
      sessionsLost: this.lost,
      disconnects: this.disconnects,
      errors: this.errors,
    };
    client.close();
    return figures;
  }
}
