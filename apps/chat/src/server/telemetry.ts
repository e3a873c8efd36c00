import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { Logger } from '@probe/server';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}

/**
 * A pino-compatible logger on the console, one readable line per record:
 * `[chat] info connection refused code=invalid-frame closeCode=1002 remoteAddress=127.0.0.1`.
 * An error (`err`) is printed after the line, with its stack. Swap in `pino()` for JSON logs.
 */
export function consoleLogger(options: { level?: LogLevel; name?: string } = {}): Logger {
  const threshold = RANK[options.level ?? 'info'];
  const prefix = `[${options.name ?? 'chat'}]`;
  const at =
    (level: Exclude<LogLevel, 'silent'>) =>
    (fields: object, message?: string): void => {
      if (RANK[level] < threshold) return;
      const { err, ...rest } = fields as { err?: unknown };
      const pairs = Object.entries(rest)
        .filter(([, value]) => value !== undefined)
        .map(
          ([key, value]) =>
            `${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
        );
      const line = [prefix, level, message ?? '', ...pairs].filter((part) => part !== '').join(' ');
      const write = RANK[level] >= RANK.warn ? console.error : console.log;
      if (err === undefined) write(line);
      else write(line, err);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    isLevelEnabled: (level) => isLogLevel(level) && RANK[level] >= threshold,
  };
}

export interface ChatMetrics {
  /** Given to the ProbeServer (`meterProvider`). */
  readonly meterProvider: MeterProvider;
  /** Answers `GET /metrics` in the Prometheus text format. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  shutdown(): Promise<void>;
}

/**
 * An OpenTelemetry MeterProvider whose only reader is a Prometheus exporter that serves no port
 * of its own: the chat's HTTP server answers `/metrics` with it.
 */
export function prometheusMetrics(): ChatMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  return {
    meterProvider,
    handle: (request, response) => exporter.getMetricsRequestHandler(request, response),
    shutdown: () => meterProvider.shutdown(),
  };
}
