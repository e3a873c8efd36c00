import type { ConnectionErrorInfo } from './events.js';

/**
 * One log level. Probe always calls it as `(fields, message)`: an object of structured fields
 * first (`sessionId`, `remoteAddress`, `code`, …, and an error under `err`), then a message
 * that does not vary with them. That is pino's signature, so pino (whose methods also accept
 * `(message)` alone) and `console` both fit.
 */
export type LogFn = (fields: object, message?: string) => void;

/**
 * Where the server writes its log: pino-compatible, so `pino()` (or a child of it) can be
 * passed as is, and so can `console`.
 *
 * Probe never logs session tokens, `auth` payloads or message contents.
 *
 * @example
 * import pino from 'pino';
 * const server = new ProbeServer({ logger: pino({ level: 'debug' }).child({ name: 'probe' }) });
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /**
   * Optional (pino has it): when it says `'debug'` is off, the server does not follow each
   * session's events for debug records.
   */
  isLevelEnabled?(level: string): boolean;
}

const PREFIX = '[probe]';

/**
 * Writes one record to `console.error`: the message, then the error (if any) as is, so Node
 * prints its stack, then the other fields.
 */
function toConsole(fields: object, message?: string): void {
  const { err, ...rest } = fields as { err?: unknown };
  const args: unknown[] = [];
  if (err !== undefined) args.push(err);
  if (Object.keys(rest).length > 0) args.push(rest);
  const text = message === undefined ? PREFIX : `${PREFIX} ${message}`;
  console.error(args.length > 0 ? `${text}:` : text, ...args);
}

const ignore: LogFn = () => {};

/** The default logger: warnings and errors to `console.error`, nothing else. */
export const consoleLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: toConsole,
  error: toConsole,
  isLevelEnabled: (level) => level === 'warn' || level === 'error',
};

/** Whether `level` may produce output (true unless the logger says otherwise). */
export function levelEnabled(logger: Logger, level: 'debug' | 'info' | 'warn' | 'error'): boolean {
  try {
    return logger.isLevelEnabled?.(level) ?? true;
  } catch {
    return true;
  }
}

/**
 * The level of a `'connection-error'` record. Most are the client's doing (bad frames, a
 * wrong token, a refused origin) and belong at info; an unreachable store is the operator's
 * concern, and an internal error is a bug.
 */
export function connectionErrorLevel(code: string): 'info' | 'warn' | 'error' {
  if (code === 'internal-error') return 'error';
  if (code === 'store-unavailable') return 'warn';
  return 'info';
}

/**
 * Writes one record. A logger that throws must not break the socket handler or timer that
 * logged, so its exception is dropped.
 */
export function write(
  logger: Logger,
  level: 'debug' | 'info' | 'warn' | 'error',
  fields: object,
  message: string,
): void {
  try {
    logger[level](fields, message);
  } catch {
    // Nowhere left to report it.
  }
}

/** Logs a `'connection-error'` entry with its fields; its `message` goes under `detail`. */
export function logConnectionError(logger: Logger, info: ConnectionErrorInfo): void {
  const { code, closeCode, message, remoteAddress, sessionId } = info;
  const fields: Record<string, unknown> = { code, closeCode, remoteAddress, detail: message };
  if (sessionId !== undefined) fields.sessionId = sessionId;
  write(logger, connectionErrorLevel(code), fields, 'connection refused');
}
