import {
  type BatchObservableCallback,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  type Observable,
  ValueType,
} from '@opentelemetry/api';
import type { ProbeObserver } from './connection.js';
import type { CloseReason, ConnectionErrorInfo, ResumeInfo, SuspendReason } from './events.js';

/** Replaced by the build with the package's version. */
declare const __PROBE_SERVER_VERSION__: string | undefined;

/** The instrumentation scope of every instrument: the meter's name and version. */
export const METER_NAME = '@probe/server';
export const METER_VERSION =
  typeof __PROBE_SERVER_VERSION__ === 'string' ? __PROBE_SERVER_VERSION__ : '0.0.0';

/** Instrument names (`probe.` prefix, OpenTelemetry units: seconds for durations, By for bytes). */
export const INSTRUMENTS = {
  connections: 'probe.connection.count',
  sessions: 'probe.session.count',
  created: 'probe.session.created',
  suspended: 'probe.session.suspended',
  resumed: 'probe.session.resumed',
  ended: 'probe.session.ended',
  replayed: 'probe.message.replayed',
  detection: 'probe.detection.duration',
  rtt: 'probe.rtt',
  buffered: 'probe.replay_buffer.size',
  refused: 'probe.connection.refused',
} as const;

/** What the observable instruments read when the SDK collects (never on a hot path). */
export interface MetricsSource {
  connectionCount(): number;
  /** Every session this node serves. */
  sessions(): Iterable<{ readonly state: string; readonly bufferedBytes: number }>;
}

// Detection is bounded by probeIntervalMs + probeTimeoutMs (15 s by default, up to hours).
const DETECTION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 900, 3600];
const RTT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Whether `meter` is the API's no-op meter, i.e. no SDK is installed. Compared by class, and
 * by class name for a no-op meter from another copy of `@opentelemetry/api`.
 */
export function isNoopMeter(meter: Meter): boolean {
  const noop = createNoopMeter().constructor;
  const kind = (meter as { constructor?: { name?: string } }).constructor;
  return kind === noop || kind?.name === noop.name;
}

/**
 * The server's OpenTelemetry instruments. Counts that change on every frame (connections,
 * sessions by state, buffered bytes) are observable gauges read from the server's registry
 * when the SDK collects, so the hot paths do no work for them. Counters and histograms record
 * events that are rare per connection; the probe round trip, once per interval per connection,
 * is one histogram record.
 */
export class ServerMetrics {
  readonly #meter: Meter;
  readonly #created: Counter;
  readonly #suspended: Counter;
  readonly #resumed: Counter;
  readonly #ended: Counter;
  readonly #replayed: Counter;
  readonly #refused: Counter;
  readonly #detection: Histogram;
  readonly #rtt: Histogram;
  readonly #observables: Observable[];
  readonly #observe: BatchObservableCallback;
  readonly probes: ProbeObserver;

  /** Null when `provider` is the no-op one: then nothing is created and nothing is recorded. */
  static create(provider: MeterProvider, source: MetricsSource): ServerMetrics | null {
    const meter = provider.getMeter(METER_NAME, METER_VERSION);
    return isNoopMeter(meter) ? null : new ServerMetrics(meter, source);
  }

  private constructor(meter: Meter, source: MetricsSource) {
    this.#meter = meter;
    const int = { valueType: ValueType.INT };
    const connections = meter.createObservableGauge(INSTRUMENTS.connections, {
      description: 'WebSocket connections open on this node (welcomed or still in the handshake).',
      unit: '{connection}',
      ...int,
    });
    const sessions = meter.createObservableGauge(INSTRUMENTS.sessions, {
      description: "Sessions this node serves, by 'state': open or suspended.",
      unit: '{session}',
      ...int,
    });
    const buffered = meter.createObservableGauge(INSTRUMENTS.buffered, {
      description:
        'Server-to-client bytes kept for replay (sent, not yet acknowledged), across sessions.',
      unit: 'By',
      ...int,
    });
    this.#created = meter.createCounter(INSTRUMENTS.created, {
      description: 'New sessions opened on this node.',
      unit: '{session}',
      ...int,
    });
    this.#suspended = meter.createCounter(INSTRUMENTS.suspended, {
      description: "Sessions that lost their connection and wait to be resumed, by 'reason'.",
      unit: '{session}',
      ...int,
    });
    this.#resumed = meter.createCounter(INSTRUMENTS.resumed, {
      description: "Resumes on this node; 'moved' is true when the session came from another node.",
      unit: '{resume}',
      ...int,
    });
    this.#ended = meter.createCounter(INSTRUMENTS.ended, {
      description: "Sessions that ended or left this node, by 'reason' (the 'close' reason).",
      unit: '{session}',
      ...int,
    });
    this.#replayed = meter.createCounter(INSTRUMENTS.replayed, {
      description: "Messages re-sent on resume, by 'direction': to_client or from_client.",
      unit: '{message}',
      ...int,
    });
    this.#refused = meter.createCounter(INSTRUMENTS.refused, {
      description:
        "Connections refused or cut by the server ('connection-error'), by close 'code' and 'reason'.",
      unit: '{connection}',
      ...int,
    });
    this.#detection = meter.createHistogram(INSTRUMENTS.detection, {
      description:
        'From the last probe answer (or the welcome) to the session being suspended on a probe timeout.',
      unit: 's',
      advice: { explicitBucketBoundaries: DETECTION_BUCKETS },
    });
    this.#rtt = meter.createHistogram(INSTRUMENTS.rtt, {
      description: 'Probe round-trip time: from a probe sent to its answer.',
      unit: 's',
      advice: { explicitBucketBoundaries: RTT_BUCKETS },
    });
    this.#observables = [connections, sessions, buffered];
    this.#observe = (result) => {
      let open = 0;
      let suspended = 0;
      let bytes = 0;
      for (const session of source.sessions()) {
        if (session.state === 'open') open++;
        else if (session.state === 'suspended') suspended++;
        bytes += session.bufferedBytes;
      }
      result.observe(connections, source.connectionCount());
      result.observe(sessions, open, { state: 'open' });
      result.observe(sessions, suspended, { state: 'suspended' });
      result.observe(buffered, bytes);
    };
    meter.addBatchObservableCallback(this.#observe, this.#observables);
    const rtt = this.#rtt;
    const detection = this.#detection;
    this.probes = {
      answered: (rttMs) => rtt.record(rttMs / 1000),
      timedOut: (silentMs) => detection.record(silentMs / 1000),
    };
  }

  sessionOpened(): void {
    this.#created.add(1);
  }

  sessionSuspended(reason: SuspendReason): void {
    this.#suspended.add(1, { reason });
  }

  sessionResumed(info: ResumeInfo, moved: boolean): void {
    this.#resumed.add(1, { moved });
    if (info.replayedToClient > 0) {
      this.#replayed.add(info.replayedToClient, { direction: 'to_client' });
    }
    if (info.replayedFromClient > 0) {
      this.#replayed.add(info.replayedFromClient, { direction: 'from_client' });
    }
  }

  sessionEnded(reason: CloseReason): void {
    this.#ended.add(1, { reason });
  }

  connectionRefused(info: ConnectionErrorInfo): void {
    this.#refused.add(1, { code: info.closeCode, reason: info.code });
  }

  /** Stops reporting this server's gauges (after `close()`). */
  close(): void {
    this.#meter.removeBatchObservableCallback(this.#observe, this.#observables);
  }
}
