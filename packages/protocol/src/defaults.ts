// The values the client shares, named once, so CLIENT_DEFAULTS repeats no number and a browser
// bundle need not carry the server-only defaults.
import { ACK_EVERY_MESSAGES } from './inbound.js';

const MAX_PAYLOAD_BYTES = 1024 * 1024;
const MAX_BUFFERED_MESSAGES = 10_000;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const HIGH_WATER_MARK_BYTES = 1024 * 1024;
const ACK_DELAY_MS = 20;
const WATCHDOG_SLACK_MS = 50;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Defaults shared by server and client. Each can be overridden by an option of the same name,
 * on the server and (where `CLIENT_DEFAULTS` has it) on the client, except `ackEveryMessages`
 * (fixed) and `watchdogSlackMs` (client only).
 */
export const DEFAULTS = {
  /**
   * How often the server probes each connection. With the timeout below a dead or half-open
   * path is detected within 15 s, well below typical NAT/proxy idle timeouts (30–60 s).
   */
  probeIntervalMs: 10_000,
  /** How long a probe may go unanswered before the connection is declared dead. */
  probeTimeoutMs: 5_000,
  /** How long a suspended session stays resumable. */
  sessionTtlMs: 120_000,
  /** How long a new connection may take to send its HELLO. */
  handshakeTimeoutMs: 10_000,
  /** Largest frame accepted, in bytes; checked before the frame is buffered. */
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  /** Replay buffer limit per session and direction, in messages. Passing it ends the session. */
  maxBufferedMessages: MAX_BUFFERED_MESSAGES,
  /** Replay buffer limit per session and direction, in bytes. Passing it ends the session. */
  maxBufferedBytes: MAX_BUFFERED_BYTES,
  /** Above this many unacknowledged bytes `send()` returns false until `'drain'`. */
  highWaterMarkBytes: HIGH_WATER_MARK_BYTES,
  /** Longest a received message waits for its acknowledgement when there is nothing to carry it. */
  ackDelayMs: ACK_DELAY_MS,
  /** Acknowledge at once after this many unacknowledged received messages. */
  ackEveryMessages: ACK_EVERY_MESSAGES,
  /** Client: extra time beyond interval + timeout before a silent server is declared dead. */
  watchdogSlackMs: WATCHDOG_SLACK_MS,
  /** How long `request()` waits for a reply unless its own `timeoutMs` says otherwise. */
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
} as const;

/**
 * The client's share of {@link DEFAULTS}, under the client's option names (its send queue is
 * its replay buffer: `maxQueueMessages` is `maxBufferedMessages`, `maxQueueBytes` is
 * `maxBufferedBytes`).
 */
export const CLIENT_DEFAULTS = {
  maxQueueMessages: MAX_BUFFERED_MESSAGES,
  maxQueueBytes: MAX_BUFFERED_BYTES,
  highWaterMarkBytes: HIGH_WATER_MARK_BYTES,
  ackDelayMs: ACK_DELAY_MS,
  watchdogSlackMs: WATCHDOG_SLACK_MS,
  maxPayloadBytes: MAX_PAYLOAD_BYTES,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
} as const;
