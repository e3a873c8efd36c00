import type { MeterProvider } from '@opentelemetry/api';
import type { ProbeObserver } from './connection.js';
import type {
  CloseReason,
  ConnectionErrorInfo,
  ResumeInfo,
  SessionInfo,
  SuspendReason,
} from './events.js';
import { type Logger, levelEnabled, logConnectionError, write } from './logger.js';
import { type MetricsSource, ServerMetrics } from './metrics.js';
import type { Session } from './session.js';
import type { SessionObserver } from './sessions.js';

/**
 * The server's log records and metrics: a refused connection, a new session and what happens
 * to it (told by the session registry before the application's listeners, so an application
 * that removes its listeners cannot silence them), an error nobody handled. Without metrics
 * or debug records the registry is given no observer, so a session costs nothing more.
 */
export class Telemetry implements SessionObserver {
  readonly logger: Logger;
  readonly metrics: ServerMetrics | null;
  readonly #debug: boolean;
  /** Sessions that moved here and have not resumed yet. */
  readonly #moved = new WeakSet<Session>();

  constructor(logger: Logger, meterProvider: MeterProvider, source: MetricsSource) {
    this.logger = logger;
    this.metrics = ServerMetrics.create(meterProvider, source);
    this.#debug = levelEnabled(logger, 'debug');
  }

  /** What connections report probe round trips and timeouts to; null when nobody counts them. */
  get probes(): ProbeObserver | null {
    return this.metrics?.probes ?? null;
  }

  connectionError(info: ConnectionErrorInfo): void {
    this.metrics?.connectionRefused(info);
    logConnectionError(this.logger, info);
  }

  /** An error no `'error'` listener took. */
  unhandled(error: unknown): void {
    write(
      this.logger,
      'error',
      { err: error },
      "error (listen to the server's 'error' event to handle it)",
    );
  }

  /** A new session, or one that moved here from another node. */
  opened(session: Session, info: SessionInfo): void {
    if (info.moved) this.#moved.add(session);
    else this.metrics?.sessionOpened();
    if (this.#debug) {
      const fields = {
        sessionId: session.id,
        remoteAddress: session.remoteAddress,
        moved: info.moved,
      };
      write(this.logger, 'debug', fields, info.moved ? 'session moved here' : 'session opened');
    }
  }

  /** What the registry tells of each session; null when neither metrics nor debug want it. */
  get observer(): SessionObserver | null {
    return this.metrics === null && !this.#debug ? null : this;
  }

  suspended(session: Session, reason: SuspendReason): void {
    this.metrics?.sessionSuspended(reason);
    if (this.#debug)
      write(this.logger, 'debug', { sessionId: session.id, reason }, 'session suspended');
  }

  resumed(session: Session, info: ResumeInfo): void {
    // The first resume of a session that moved here is its move.
    const moved = this.#moved.delete(session);
    this.metrics?.sessionResumed(info, moved);
    if (this.#debug) {
      write(this.logger, 'debug', { sessionId: session.id, moved, ...info }, 'session resumed');
    }
  }

  closed(session: Session, reason: CloseReason): void {
    this.#moved.delete(session);
    this.metrics?.sessionEnded(reason);
    if (this.#debug)
      write(this.logger, 'debug', { sessionId: session.id, reason }, 'session ended');
  }

  close(): void {
    this.metrics?.close();
  }
}
