import type { Attributes } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import { CloseCode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { once, RawClient, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST, type Harness, startHarness, waitForState } from './harness.js';

/** A reader the test collects from whenever it wants (no export interval). */
class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let h: Harness | undefined;
let provider: MeterProvider | undefined;
afterEach(async () => {
  await h?.close();
  await provider?.shutdown();
  h = undefined;
  provider = undefined;
});

async function start() {
  const reader = new CollectingReader();
  provider = new MeterProvider({ readers: [reader] });
  h = await startHarness({ meterProvider: provider });
  /** Every metric the server reported, by name. */
  const collect = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      expect(scope.scope.name).toBe('@probe/server');
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  };
  return { harness: h, collect };
}

function matches(point: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => point[key] === value);
}

/** The sum of a counter's or gauge's points whose attributes include `attributes`. */
function value(metrics: Map<string, MetricData>, name: string, attributes: Attributes = {}) {
  const metric = metrics.get(name);
  if (!metric) return 0;
  let total = 0;
  for (const point of metric.dataPoints) {
    if (matches(point.attributes, attributes)) total += point.value as number;
  }
  return total;
}

/** A histogram's count and sum (seconds). */
function histogram(metrics: Map<string, MetricData>, name: string) {
  const metric = metrics.get(name);
  if (!metric || metric.dataPointType !== DataPointType.HISTOGRAM) return { count: 0, sum: 0 };
  let count = 0;
  let sum = 0;
  for (const point of metric.dataPoints) {
    count += point.value.count;
    sum += point.value.sum ?? 0;
  }
  return { count, sum };
}

describe('server metrics through an OpenTelemetry MeterProvider', () => {
  it('count sessions, detection, suspension, buffered bytes, resume and replay', async () => {
    const { harness, collect } = await start();
    const client = harness.client();
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    await waitForState(client, 'open');
    const session = harness.sessions[0]!;

    // A probe is answered within one interval: its round trip is recorded.
    await waitFor(async () => histogram(await collect(), 'probe.rtt').count >= 1, {
      timeoutMs: 3000,
    });
    let m = await collect();
    expect(value(m, 'probe.connection.count')).toBe(1);
    expect(value(m, 'probe.session.count', { state: 'open' })).toBe(1);
    expect(value(m, 'probe.session.count', { state: 'suspended' })).toBe(0);
    expect(value(m, 'probe.session.created')).toBe(1);
    const rtt = histogram(m, 'probe.rtt');
    expect(rtt.sum / rtt.count).toBeLessThan(1);

    // The path goes silent and new connections are refused, so the session stays suspended.
    harness.proxy.refuse(true);
    const suspended = once<[string]>(session, 'suspend', 5000);
    harness.proxy.latest()!.blackhole();
    client.send('into the void'); // lost on the way: the client replays it on resume
    expect((await suspended)[0]).toBe('probe-timeout');
    for (const text of ['one', 'two', 'three']) session.send(text);

    m = await collect();
    expect(value(m, 'probe.session.count', { state: 'open' })).toBe(0);
    expect(value(m, 'probe.session.count', { state: 'suspended' })).toBe(1);
    expect(value(m, 'probe.session.suspended', { reason: 'probe-timeout' })).toBe(1);
    expect(value(m, 'probe.replay_buffer.size')).toBeGreaterThan(0);
    const detection = histogram(m, 'probe.detection.duration');
    expect(detection.count).toBe(1);
    // Silent for at least the probe timeout, and detected within interval + timeout (+ slack).
    expect(detection.sum).toBeGreaterThanOrEqual((FAST.probeTimeoutMs - 60) / 1000);
    expect(detection.sum).toBeLessThan((FAST.probeIntervalMs + FAST.probeTimeoutMs + 400) / 1000);

    const resumed = once(session, 'resume', 5000);
    harness.proxy.refuse(false);
    await resumed;
    await waitFor(() => received.length === 3);
    expect(received).toEqual(['one', 'two', 'three']);
    m = await collect();
    expect(value(m, 'probe.session.resumed', { moved: false })).toBe(1);
    expect(value(m, 'probe.message.replayed', { direction: 'to_client' })).toBe(3);
    expect(value(m, 'probe.message.replayed', { direction: 'from_client' })).toBe(1);
    expect(value(m, 'probe.session.created')).toBe(1);
    // Acknowledged by the client: nothing left to replay.
    await waitFor(async () => value(await collect(), 'probe.replay_buffer.size') === 0);

    const closed = once<[string]>(session, 'close', 5000);
    client.close();
    await closed;
    m = await collect();
    expect(value(m, 'probe.session.ended', { reason: 'client-closed' })).toBe(1);
    expect(value(m, 'probe.session.count', { state: 'open' })).toBe(0);
  });

  it('count refusals by close code and reason', async () => {
    const { harness, collect } = await start();
    // A frame that is not Probe's.
    const raw = await RawClient.connect(harness.directUrl);
    raw.sendBytes(new Uint8Array([0x93, 0x01, 0x02, 0x03]));
    await raw.waitForClose(3000);
    // A browser page from another site.
    await expect(
      RawClient.connect(harness.directUrl, { headers: { origin: 'https://evil.example' } }),
    ).rejects.toThrow();
    // A resume with a wrong token.
    const liar = await RawClient.connect(harness.directUrl);
    liar.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: 'nope', token: 'x'.repeat(43), lastSeq: 0, sentSeq: 0 },
    });
    await liar.waitForClose(3000);
    await waitFor(() => harness.errors.length === 3);

    const m = await collect();
    for (const info of harness.errors) {
      expect(
        value(m, 'probe.connection.refused', { code: info.closeCode, reason: info.code }),
      ).toBe(1);
    }
    expect(harness.errors.map((info) => info.code).sort()).toEqual([
      'forbidden-origin',
      'invalid-frame',
      'resume-refused',
    ]);
    expect(
      value(m, 'probe.connection.refused', {
        code: CloseCode.FORBIDDEN_ORIGIN,
        reason: 'forbidden-origin',
      }),
    ).toBe(1);
    expect(value(m, 'probe.connection.refused')).toBe(3);
  });

  it('stop observing a closed server', async () => {
    const { harness, collect } = await start();
    const client = harness.client();
    await waitForState(client, 'open');
    expect(value(await collect(), 'probe.connection.count')).toBe(1);
    await harness.close();
    h = undefined;
    // Read after the close, the registry would say 0 connections; unobserved, the gauge keeps
    // its last value (the SDK holds the last value of a cumulative gauge).
    expect(value(await collect(), 'probe.connection.count')).toBe(1);
  });
});
