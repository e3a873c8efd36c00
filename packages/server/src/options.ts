import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { DEFAULTS, ProbeError } from '@probe/protocol';
import type { Session } from './session.js';
import type { SessionStore } from './session-store.js';

/**
 * Decides who may open a session. Resolve with any value to accept (it becomes `session.data`),
 * reject or throw to refuse with close code 4503 `UNAUTHORIZED` and the error's message as reason.
 * Called for new sessions only; a resume is authorised by the session's secret token.
 */
export type Authenticate<Data> = (auth: unknown, request: IncomingMessage) => Data | Promise<Data>;

export interface ProbeServerOptions<Data = unknown, In = unknown, Out = unknown> {
  /**
   * How often each connection is probed, in ms.
   * @default 10000
   */
  probeIntervalMs?: number;
  /**
   * How long a probe may go unanswered before the connection is declared dead, in ms.
   * A dead or half-open path is detected within `probeIntervalMs + probeTimeoutMs` (+ one tick).
   * @default 5000
   */
  probeTimeoutMs?: number;
  /**
   * How long a suspended session stays resumable, in ms. Then `'close'` fires with `'expired'`.
   * @default 120000
   */
  sessionTtlMs?: number;
  /**
   * How long a new connection may take to send its hello, in ms.
   * @default 10000
   */
  handshakeTimeoutMs?: number;
  /**
   * Largest frame accepted, in bytes; enforced by `ws` before the frame is buffered.
   * @default 1048576 (1 MiB)
   */
  maxPayloadBytes?: number;
  /**
   * Unacknowledged server→client messages kept per session for replay. Passing it ends the
   * session with reason `'buffer-overflow'` (close code 4020).
   * @default 10000
   */
  maxBufferedMessages?: number;
  /**
   * Unacknowledged server→client bytes kept per session, as for `maxBufferedMessages`.
   * @default 8388608 (8 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Above this many unacknowledged bytes `session.send()` returns false; `'drain'` follows.
   * @default 1048576 (1 MiB)
   */
  highWaterMarkBytes?: number;
  /**
   * Longest a received message waits for its acknowledgement, in ms.
   * @default 20
   */
  ackDelayMs?: number;
  /** Accept or refuse new sessions; see {@link Authenticate}. Default: everyone is accepted. */
  authenticate?: Authenticate<Data>;
  /**
   * Checks the Origin header of browser connections. A refused origin is closed with 4504
   * `FORBIDDEN_ORIGIN`. Default: every origin is allowed.
   */
  allowOrigin?: (origin: string | undefined, request: IncomingMessage) => boolean;
  /** Attach to this existing HTTP(S) server instead of calling `listen()`. */
  server?: HttpServer;
  /**
   * With `server` (or `listen()`), only upgrades for this path are handled; others get 404.
   * @default undefined (every path)
   */
  path?: string;
  /**
   * Do not touch any HTTP server; pass upgrades to `handleUpgrade()` yourself.
   * @default false
   */
  noServer?: boolean;
  /**
   * Where sessions are looked up when clients resume; see docs/session-store.md.
   * @default an in-memory store
   */
  store?: SessionStore<Session<Data, In, Out>>;
}

export type ResolvedServerOptions<Data> = Required<
  Pick<
    ProbeServerOptions<Data>,
    | 'probeIntervalMs'
    | 'probeTimeoutMs'
    | 'sessionTtlMs'
    | 'handshakeTimeoutMs'
    | 'maxPayloadBytes'
    | 'maxBufferedMessages'
    | 'maxBufferedBytes'
    | 'highWaterMarkBytes'
    | 'ackDelayMs'
  >
> &
  Pick<ProbeServerOptions<Data>, 'authenticate' | 'allowOrigin' | 'server' | 'path' | 'noServer'>;

const NUMERIC = [
  'probeIntervalMs',
  'probeTimeoutMs',
  'sessionTtlMs',
  'handshakeTimeoutMs',
  'maxPayloadBytes',
  'maxBufferedMessages',
  'maxBufferedBytes',
  'highWaterMarkBytes',
  'ackDelayMs',
] as const;

/** Applies defaults and refuses impossible values with a sentence naming the option. */
export function resolveServerOptions<Data>(
  options: ProbeServerOptions<Data>,
): ResolvedServerOptions<Data> {
  const resolved = { ...options } as ResolvedServerOptions<Data>;
  for (const name of NUMERIC) {
    const value = options[name] ?? DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new ProbeError(
        'invalid-option',
        `${name} must be a finite number ≥ 0, got ${String(value)}`,
      );
    }
    resolved[name] = value;
  }
  if (resolved.probeIntervalMs < 10 || resolved.probeTimeoutMs < 10) {
    throw new ProbeError(
      'invalid-option',
      'probeIntervalMs and probeTimeoutMs must be at least 10 ms',
    );
  }
  if (resolved.maxPayloadBytes < 64) {
    throw new ProbeError('invalid-option', 'maxPayloadBytes must be at least 64 bytes');
  }
  if (resolved.highWaterMarkBytes > resolved.maxBufferedBytes) {
    throw new ProbeError('invalid-option', 'highWaterMarkBytes must not exceed maxBufferedBytes');
  }
  if (options.server && options.noServer) {
    throw new ProbeError('invalid-option', 'server and noServer cannot be used together');
  }
  if (options.path !== undefined && !options.path.startsWith('/')) {
    throw new ProbeError('invalid-option', `path must start with '/', got '${options.path}'`);
  }
  return resolved;
}
