import { DEFAULTS, ProbeError, RECONNECT_DEFAULTS } from '@probe/protocol';
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
  /** A connection must stay open this long before the attempt counter resets. @default 5000 */
  minUptimeMs: number;
  /** An attempt that has not been welcomed by then is abandoned. @default 10000 */
  connectTimeoutMs: number;
}

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
  /** Largest frame accepted from the server, in bytes. @default 1048576 */
  maxPayloadBytes?: number;
  /** Connect at once; otherwise call `connect()`. @default true */
  autoConnect?: boolean;
  /** Source of randomness for backoff jitter (tests pass a seeded one). @default Math.random */
  random?: () => number;
}

export interface ResolvedClientOptions {
  reconnect: ReconnectOptions;
  maxQueueMessages: number;
  maxQueueBytes: number;
  highWaterMarkBytes: number;
  ackDelayMs: number;
  watchdogSlackMs: number;
  maxPayloadBytes: number;
  autoConnect: boolean;
  random: () => number;
}

function number(name: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new ProbeError(
      'invalid-option',
      `${name} must be a number ≥ ${min}, got ${String(value)}`,
    );
  }
  return value;
}

/** Applies defaults and refuses impossible values with a sentence naming the option. */
export function resolveClientOptions(options: ProbeClientOptions): ResolvedClientOptions {
  const r = { ...RECONNECT_DEFAULTS, ...options.reconnect };
  const reconnect: ReconnectOptions = {
    initialDelayMs: number('reconnect.initialDelayMs', r.initialDelayMs),
    maxDelayMs: number('reconnect.maxDelayMs', r.maxDelayMs),
    factor: number('reconnect.factor', r.factor, 1),
    maxAttempts: number('reconnect.maxAttempts', r.maxAttempts),
    minUptimeMs: number('reconnect.minUptimeMs', r.minUptimeMs),
    connectTimeoutMs: number('reconnect.connectTimeoutMs', r.connectTimeoutMs, 1),
  };
  if (reconnect.initialDelayMs > reconnect.maxDelayMs) {
    throw new ProbeError(
      'invalid-option',
      'reconnect.initialDelayMs must not exceed reconnect.maxDelayMs',
    );
  }
  const resolved: ResolvedClientOptions = {
    reconnect,
    maxQueueMessages: number(
      'maxQueueMessages',
      options.maxQueueMessages ?? DEFAULTS.maxBufferedMessages,
      1,
    ),
    maxQueueBytes: number('maxQueueBytes', options.maxQueueBytes ?? DEFAULTS.maxBufferedBytes, 1),
    highWaterMarkBytes: number(
      'highWaterMarkBytes',
      options.highWaterMarkBytes ?? DEFAULTS.highWaterMarkBytes,
    ),
    ackDelayMs: number('ackDelayMs', options.ackDelayMs ?? DEFAULTS.ackDelayMs),
    watchdogSlackMs: number('watchdogSlackMs', options.watchdogSlackMs ?? DEFAULTS.watchdogSlackMs),
    maxPayloadBytes: number(
      'maxPayloadBytes',
      options.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes,
      64,
    ),
    autoConnect: options.autoConnect ?? true,
    random: options.random ?? Math.random,
  };
  if (resolved.highWaterMarkBytes > resolved.maxQueueBytes) {
    throw new ProbeError('invalid-option', 'highWaterMarkBytes must not exceed maxQueueBytes');
  }
  return resolved;
}
