import { CLIENT_DEFAULTS, ProbeError } from '@probe/protocol';
import WebSocketImpl from 'isomorphic-ws';
import type { BackoffOptions } from './backoff.js';

/**
 * An event handler slot, typed through a method so that its parameter is checked bivariantly:
 * the handlers of the browser's WebSocket (`MessageEvent`, `CloseEvent`) and of `ws`'s (its own
 * event classes) then fit without a cast.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

/** The part of the WHATWG WebSocket the client uses; browsers' and `ws`'s both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the socket without a close handshake. */
  terminate?: () => void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ReconnectOptions extends BackoffOptions {
  /** Give up after this many consecutive failed attempts. @default Infinity */
  maxAttempts: number;
  /**
   * A connection that opened a new session must stay open this long before the attempt counter
   * resets, so a server that welcomes and drops at once is not hammered. @default 5000
   */
  minUptimeMs: number;
  /**
   * A connection that resumed the session must stay open this long before the attempt counter
   * resets: the server kept the session, so it is not a server that accepts and drops at once.
   * @default 1000
   */
  settleMs: number;
  /** An attempt that has not been welcomed by then is abandoned. @default 10000 */
  connectTimeoutMs: number;
}

/** Reconnect defaults (full-jitter exponential backoff); see docs/liveness.md. */
export const RECONNECT_DEFAULTS = {
  initialDelayMs: 250,
  // Low enough that a path healthy again after a storm of faults is back within seconds.
  maxDelayMs: 10_000,
  factor: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  minUptimeMs: 5_000,
  settleMs: 1_000,
  connectTimeoutMs: 10_000,
} as const satisfies ReconnectOptions;

export interface ProbeClientOptions {
  /**
   * Credentials sent in the hello and handed to the server's `authenticate`. A function is
   * called before every attempt (so a token can be refreshed); it may return a promise.
   */
  auth?: unknown | (() => unknown | Promise<unknown>);
  /** Reconnect policy; see {@link ReconnectOptions} for each field's default. */
  reconnect?: Partial<ReconnectOptions>;
  /**
   * WebSocket implementation. Default: the browser's, or `ws` in Node (via isomorphic-ws).
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Unacknowledged client→server messages kept for replay (sent or queued while offline).
   * `send()` beyond it throws `ProbeError('queue-full')`; nothing is dropped silently.
   * @default 10000
   */
  maxQueueMessages?: number;
  /** As `maxQueueMessages`, in bytes. @default 8388608 (8 MiB) */
  maxQueueBytes?: number;
  /** Above this many unacknowledged bytes `send()` returns false until `'drain'`. @default 1048576 */
  highWaterMarkBytes?: number;
  /** Longest a received message waits for its acknowledgement, in ms. @default 20 */
  ackDelayMs?: number;
  /** Extra time beyond probe interval + timeout before a silent server is declared dead. @default 50 */
  watchdogSlackMs?: number;
  /**
   * Largest frame accepted from the server, in bytes. Until the server's welcome says what it
   * accepts, also the largest message `send()` takes. @default 1048576
   */
  maxPayloadBytes?: number;
  /** Connect at once; otherwise call `connect()` (`send()` queues until then). @default true */
  autoConnect?: boolean;
  /** How long `request()` and `emitWithAck()` wait for a reply by default, in ms. @default 30000 */
  requestTimeoutMs?: number;
  /**
   * A key from `recoveryKey()` of an earlier page or process: the client takes that session up
   * again (resumes it on connect) and re-sends what the server had not acknowledged. A key
   * whose session has expired ends in `'session-lost'` as any failed resume does.
   */
  recover?: string | null;
  /** Source of randomness for backoff jitter (tests pass a seeded one). @default Math.random */
  random?: () => number;
}

type Limit = keyof typeof CLIENT_DEFAULTS;

export type ResolvedClientOptions = Record<Limit, number> & {
  auth: ProbeClientOptions['auth'];
  reconnect: ReconnectOptions;
  WebSocket: WebSocketConstructor;
  autoConnect: boolean;
  random: () => number;
  recover: string | null;
};

/** Smallest allowed value of the numeric options that may not be 0 (the others may). */
const MINIMUM: Readonly<Partial<Record<string, number>>> = {
  maxQueueMessages: 1,
  maxQueueBytes: 1,
  maxPayloadBytes: 64,
  factor: 1,
  connectTimeoutMs: 1,
  requestTimeoutMs: 1,
} satisfies Partial<Record<Limit | keyof ReconnectOptions, number>>;

function refuse(message: string): never {
  throw new ProbeError('invalid-option', message);
}

/** The numbers of `given` with `defaults` applied, each checked against its minimum. */
function numbers<T extends Readonly<Record<string, number>>>(
  defaults: T,
  given: Partial<Record<keyof T, unknown>> = {},
  prefix = '',
): Record<keyof T, number> {
  const out = {} as Record<keyof T, number>;
  for (const name in defaults) {
    const min = MINIMUM[name] ?? 0;
    const value = given[name] ?? defaults[name];
    // `!(value >= min)` also refuses NaN.
    if (typeof value !== 'number' || !(value >= min)) {
      refuse(`${prefix}${name} must be a number ≥ ${min}, got ${String(value)}`);
    }
    out[name] = value;
  }
  return out;
}

/** Applies defaults and refuses impossible values with a sentence naming the option. */
export function resolveClientOptions(options: ProbeClientOptions): ResolvedClientOptions {
  const reconnect = numbers(RECONNECT_DEFAULTS, options.reconnect, 'reconnect.');
  if (reconnect.initialDelayMs > reconnect.maxDelayMs) {
    refuse('reconnect.initialDelayMs must not exceed reconnect.maxDelayMs');
  }
  const limits = numbers(CLIENT_DEFAULTS, options);
  if (limits.highWaterMarkBytes > limits.maxQueueBytes) {
    refuse('highWaterMarkBytes must not exceed maxQueueBytes');
  }
  return {
    ...limits,
    auth: options.auth,
    reconnect,
    WebSocket: options.WebSocket ?? (WebSocketImpl as unknown as WebSocketConstructor),
    autoConnect: options.autoConnect ?? true,
    random: options.random ?? Math.random,
    recover: options.recover ?? null,
  };
}
