import type { Server as HttpServer, IncomingMessage } from 'node:http';
import { type MeterProvider, metrics } from '@opentelemetry/api';
import { DEFAULTS, MAX_PAYLOAD_RANGE, PROBE_MS_RANGE, ProbeError } from '@probe/protocol';
import { consoleLogger, type Logger } from './logger.js';
import type { SessionStore } from './store.js';

/**
 * Decides who may open a session. Resolve with any value to accept (it becomes `session.data`),
 * reject or throw to refuse with close code 4503 `UNAUTHORIZED`. The client is told only
 * "unauthorized"; the error itself goes to the server's `'connection-error'` log entry.
 * Called for new sessions only; a resume is authorised by the session's secret token and by
 * {@link AuthorizeResume}.
 */
export type Authenticate<Data> = (auth: unknown, request: IncomingMessage) => Data | Promise<Data>;

/**
 * Runs on every resume, after the token matched: return false (or throw) to refuse it, which
 * ends the session with `'revoked'` (close code 4503). Use it to cut off a user whose access
 * was revoked while their session was resumable.
 */
export type AuthorizeResume<Data> = (
  data: Data,
  request: IncomingMessage,
) => boolean | Promise<boolean>;

/**
 * Checks the Origin header of a browser's upgrade request, before the upgrade: a refused
 * origin gets HTTP 403. `'same-origin'` accepts requests without an Origin header (not from a
 * browser) and those whose Origin host equals the Host header; `'any'` accepts everything.
 */
export type AllowOrigin =
  | 'same-origin'
  | 'any'
  | readonly string[]
  | ((origin: string | undefined, request: IncomingMessage) => boolean);

export interface ProbeServerOptions<Data = unknown> {
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
  /**
   * How long `session.request()` and `session.emitWithAck()` wait for the client's reply
   * unless their own `timeoutMs` says otherwise, in ms.
   * @default 30000
   */
  requestTimeoutMs?: number;
  /**
   * Resumes one session may make per minute; more are refused with 1013 (retryable), since
   * each can make the server replay up to `maxBufferedBytes`.
   * @default 30
   */
  maxResumesPerMinute?: number;
  /**
   * Sessions this node serves at most; a new session beyond it is refused with 1013
   * `TRY_AGAIN_LATER` (retryable).
   * @default 100000
   */
  maxSessions?: number;
  /**
   * WebSocket connections one remote address may hold at once; more get HTTP 429 before the
   * upgrade. Behind a proxy every client shares the proxy's address: leave it unlimited there.
   * @default Infinity
   */
  maxConnectionsPerAddress?: number;
  /**
   * A session older than this is not resumed (it ends with `'expired'`), however often its
   * client reconnects: a stolen token stops working after it.
   * @default Infinity
   */
  maxSessionLifetimeMs?: number;
  /**
   * Shared store only: how long a node taking a session over waits for the node that served
   * it to let go, in ms. A node that is alive answers in a few ms; one that was killed or
   * frozen does not, and then the client messages it may have handed to the application
   * without storing are marked `redelivered` when they arrive again.
   * @default 2000
   */
  handoverTimeoutMs?: number;
  /** Accept or refuse new sessions; see {@link Authenticate}. Default: everyone is accepted. */
  authenticate?: Authenticate<Data>;
  /** Accept or refuse each resume; see {@link AuthorizeResume}. Default: every valid token. */
  authorizeResume?: AuthorizeResume<Data>;
  /**
   * Which browser origins may connect; see {@link AllowOrigin}. Browsers send cookies with
   * WebSocket upgrades from any site, so allowing every origin exposes cookie-authenticated
   * apps to cross-site WebSocket hijacking.
   * @default 'same-origin'
   */
  allowOrigin?: AllowOrigin;
  /**
   * Request headers kept on `session.headers` after the upgrade request is released (the
   * request itself is not kept: it holds buffers for as long as the connection lives).
   * @default []
   */
  keepHeaders?: readonly string[];
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
   * A store shared by several server nodes (`RedisSessionStore` from `@probe/redis`), so a
   * client resumes on any node and a deploy or a killed node loses nothing; see
   * docs/scale-out.md. Without it sessions live in this process.
   * @default undefined (sessions in memory)
   */
  store?: SessionStore;
  /**
   * Where the server logs, pino-compatible (`pino()` or `console` fit): refused connections
   * and protocol errors at info (an unreachable store at warn, an internal error at error),
   * sessions opened, suspended, resumed and ended at debug, and errors no `'error'` listener
   * took at error. Probe calls each level as `(fields, message)` and never logs tokens,
   * `auth` payloads or message contents. See {@link Logger}.
   * @default warnings and errors to `console.error`, nothing else
   */
  logger?: Logger;
  /**
   * The OpenTelemetry `MeterProvider` the server's metrics go to (meter `@probe/server`).
   * Without an SDK installed it is the API's no-op provider and the server records nothing.
   * @default the global provider, `metrics.getMeterProvider()`, when the server is created
   */
  meterProvider?: MeterProvider;
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
    | 'requestTimeoutMs'
    | 'maxResumesPerMinute'
    | 'maxSessions'
    | 'maxConnectionsPerAddress'
    | 'maxSessionLifetimeMs'
    | 'handoverTimeoutMs'
    | 'allowOrigin'
    | 'keepHeaders'
    | 'logger'
    | 'meterProvider'
  >
> &
  Pick<
    ProbeServerOptions<Data>,
    'authenticate' | 'authorizeResume' | 'server' | 'path' | 'noServer'
  >;

/** Server-only defaults, beside the shared ones in `DEFAULTS`. */
const SERVER_DEFAULTS = {
  maxResumesPerMinute: 30,
  maxSessions: 100_000,
  maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
  maxSessionLifetimeMs: Number.POSITIVE_INFINITY,
  handoverTimeoutMs: 2000,
} as const;

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
  'requestTimeoutMs',
] as const;

const UNBOUNDED = [
  'maxResumesPerMinute',
  'maxSessions',
  'maxConnectionsPerAddress',
  'maxSessionLifetimeMs',
  'handoverTimeoutMs',
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
  for (const name of UNBOUNDED) {
    const value = options[name] ?? SERVER_DEFAULTS[name];
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new ProbeError('invalid-option', `${name} must be a number ≥ 0, got ${String(value)}`);
    }
    resolved[name] = value;
  }
  resolved.allowOrigin = options.allowOrigin ?? 'same-origin';
  resolved.keepHeaders = options.keepHeaders ?? [];
  resolved.logger = options.logger ?? consoleLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof resolved.logger[level] !== 'function') {
      throw new ProbeError('invalid-option', `logger must have a ${level}() method`);
    }
  }
  resolved.meterProvider = options.meterProvider ?? metrics.getMeterProvider();
  if (typeof resolved.meterProvider.getMeter !== 'function') {
    throw new ProbeError('invalid-option', 'meterProvider must have a getMeter() method');
  }
  // The welcome carries these; a client refuses values outside the ranges the protocol allows.
  const [minProbe, maxProbe] = PROBE_MS_RANGE;
  for (const name of ['probeIntervalMs', 'probeTimeoutMs'] as const) {
    const value = resolved[name];
    if (!Number.isInteger(value) || value < minProbe || value > maxProbe) {
      throw new ProbeError(
        'invalid-option',
        `${name} must be a whole number of ms from ${minProbe} to ${maxProbe}, got ${value}`,
      );
    }
  }
  const [minPayload, maxPayload] = MAX_PAYLOAD_RANGE;
  const payload = resolved.maxPayloadBytes;
  if (!Number.isInteger(payload) || payload < minPayload || payload > maxPayload) {
    throw new ProbeError(
      'invalid-option',
      `maxPayloadBytes must be a whole number from ${minPayload} to ${maxPayload}, got ${payload}`,
    );
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
