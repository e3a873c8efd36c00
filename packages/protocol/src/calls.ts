import { ReplyKind } from './frames.js';
import { ProbeError } from './probe-error.js';
import { MAX_EVENT_LENGTH, RESERVED_EVENTS, utf8Length } from './validate.js';

/**
 * The error a request handler throws to answer with a code and message of its own, and the
 * error a request rejects with when the other side answered so. Any other error a handler
 * throws reaches the requester as `handler-failed` with a generic message (its text may hold
 * internals), and is reported on the handler's side.
 */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface RequestOptions {
  /** Rejects with a `ProbeError` `timeout` when no reply came within this many ms. */
  timeoutMs?: number;
  /** Rejects with the signal's reason when it aborts first; a reply after that is dropped. */
  signal?: AbortSignal;
}

/** Answers one request: returns the reply (or a promise of it), throws to fail it. */
export type RequestHandler<Context extends unknown[]> = (
  payload: never,
  ...context: Context
) => unknown;

/** What {@link Calls} asks of the peer it runs in. */
export interface CallHost {
  /**
   * Sends a request and returns its id: the request's own sequence number, unique for the
   * session's life in that direction (across reconnects, a page reload or a move to another
   * node), so no reply can be taken for another request's. Throws as the peer's `send()`.
   */
  request(data: unknown, event: string | null): number;
  /** Sends the reply to request `call`; throws as the peer's `send()` does. */
  reply(data: unknown, call: number, kind: ReplyKind): void;
  /** An error of the application's handler, for the peer's `'error'` event. */
  report(error: unknown): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout>;
  done(): void;
}

/** Longest timeout setTimeout honours; anything longer fires at once. */
const MAX_TIMEOUT_MS = 0x7fff_ffff;

const describe = (event: string | null) => (event === null ? 'request' : `request '${event}'`);

/**
 * Requests with replies over a session's exactly-once messages, the same on both sides: the
 * requester's pending requests (ids, timeouts, rejection when the session is lost) and the
 * answerer's handlers. A request and its reply are ordinary numbered messages, so a request
 * sent before a connection drop is delivered once after the resume and its handler never runs
 * twice; the pending request simply waits through the reconnect.
 */
export class Calls<Context extends unknown[]> {
  readonly #pending = new Map<number, Pending>();
  readonly #handlers = new Map<string | null, RequestHandler<Context>>();

  constructor(
    private readonly host: CallHost,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Requests waiting for their reply. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Sends a request and resolves with the reply.
   * @throws {ProbeError} `invalid-argument` for a bad timeout; the promise rejects when the
   * request cannot be sent (as `send()` throws), on timeout, abort, an error reply
   * ({@link RequestError}) or the loss of the session.
   */
  request(event: string | null, data: unknown, options: RequestOptions = {}): Promise<unknown> {
    const { timeoutMs = this.defaultTimeoutMs, signal } = options;
    if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) {
      throw new ProbeError(
        'invalid-argument',
        `timeoutMs must be a number from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`,
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // Throws (too large, queue full, closed) before anything is kept: the promise rejects.
      const id = this.host.request(data, event);
      const onAbort = () => this.#settle(id)?.reject(signal?.reason);
      const pending: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#settle(id)?.reject(
            new ProbeError('timeout', `${describe(event)} got no reply within ${timeoutMs} ms`),
          );
        }, timeoutMs),
        done: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, pending);
    });
  }

  /** A reply arrived for request `call`; one for a request no longer pending is dropped. */
  replied(call: number, kind: ReplyKind, data: unknown): void {
    const pending = this.#settle(call);
    if (!pending) return;
    if (kind === ReplyKind.OK) pending.resolve(data);
    else {
      const { code, message } = (data ?? {}) as { code?: unknown; message?: unknown };
      pending.reject(
        new RequestError(
          typeof code === 'string' ? code : 'handler-failed',
          typeof message === 'string' ? message : 'the request failed',
        ),
      );
    }
  }

  /** Rejects every pending request (the session was lost or closed). */
  rejectAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }

  /** Sets (or with null removes) the handler of requests named `event` (null: unnamed ones). */
  handle(event: string | null, handler: RequestHandler<Context> | null): void {
    if (handler === null) this.#handlers.delete(event);
    else this.#handlers.set(event, handler);
  }

  /** A request arrived: runs its handler and sends the reply. */
  answer(event: string | null, call: number, data: unknown, ...context: Context): void {
    const handler = this.#handlers.get(event);
    if (handler === undefined) {
      this.#fail(call, 'no-handler', `no handler for this ${describe(event)}`);
      return;
    }
    const failed = (error: unknown) => {
      if (error instanceof RequestError) this.#fail(call, error.code, error.message);
      else {
        this.host.report(error);
        this.#fail(call, 'handler-failed', `the handler of this ${describe(event)} failed`);
      }
    };
    try {
      const result = handler(data as never, ...context);
      if (result instanceof Promise) {
        result.then((value) => this.#reply(call, ReplyKind.OK, value, failed), failed);
      } else this.#reply(call, ReplyKind.OK, result, failed);
    } catch (error) {
      failed(error);
    }
  }

  #fail(call: number, code: string, message: string): void {
    this.#reply(call, ReplyKind.ERROR, { code, message }, (error) => this.host.report(error));
  }

  #reply(call: number, kind: ReplyKind, data: unknown, failed: (error: unknown) => void): void {
    try {
      this.host.reply(data ?? null, call, kind);
    } catch (error) {
      // The session ended meanwhile: there is no one to answer.
      if (
        error instanceof ProbeError &&
        (error.code === 'session-closed' || error.code === 'client-closed')
      )
        return;
      failed(error);
    }
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    pending.done();
    return pending;
  }
}

/**
 * Checks the name of a named event or request before it is sent.
 * @throws {ProbeError} `invalid-argument` for an empty, too long or reserved name.
 */
export function checkEventName(event: string): string {
  if (
    typeof event !== 'string' ||
    event.length === 0 ||
    utf8Length(event) > MAX_EVENT_LENGTH ||
    RESERVED_EVENTS.includes(event)
  ) {
    throw new ProbeError(
      'invalid-argument',
      `event name ${JSON.stringify(String(event)).slice(0, 60)} is empty, longer than ${MAX_EVENT_LENGTH} bytes or reserved by Probe`,
    );
  }
  return event;
}
