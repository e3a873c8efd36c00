import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { consoleLogger } from '../src/server/telemetry.js';
import { type ChatHarness, startChatHarness } from './harness.js';

let harness: ChatHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function scrape(url: string): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(new URL('/metrics', url));
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

/**
 * The sum of the samples of `name` whose labels include `labels` (the exporter adds its own,
 * such as the scope's name), or undefined when there is none.
 */
function sample(text: string, name: string, labels: Record<string, string> = {}) {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) {
      total = (total ?? 0) + Number(match[3]);
    }
  }
  return total;
}

describe('GET /metrics', () => {
  it("serves Probe's metrics in the Prometheus text format", async () => {
    const records: string[] = [];
    const logger = consoleLogger({ level: 'silent' });
    harness = await startChatHarness({
      logger: { ...logger, info: (_fields, message) => records.push(message ?? '') },
    });
    const ada = harness.connect('ada');
    await ada.next('welcome');
    // A refused session (no nickname) is counted by its close code.
    const nobody = harness.connect('   ');
    await new Promise((resolve) => nobody.client.once('close', resolve));

    const scraped = await waitFor(
      async () => {
        const result = await scrape(harness!.server.url);
        return sample(result.text, 'probe_rtt_count') ? result : undefined;
      },
      { timeoutMs: 5000, message: 'a probe round trip in /metrics' },
    );
    expect(scraped.status).toBe(200);
    expect(scraped.type).toMatch(/^text\/plain/);
    const { text } = scraped;
    expect(text).toContain('# TYPE probe_session_created_total counter');
    expect(sample(text, 'probe_session_created_total', { otel_scope_name: '@probe/server' })).toBe(
      1,
    );
    expect(sample(text, 'probe_session_count', { state: 'open' })).toBe(1);
    expect(sample(text, 'probe_connection_count')).toBe(1);
    const refused = { code: '4503', reason: 'unauthorized' };
    expect(sample(text, 'probe_connection_refused_total', refused)).toBe(1);
    expect(text).toContain('# TYPE probe_rtt histogram');
    expect(sample(text, 'probe_replay_buffer_size')).toEqual(expect.any(Number));
    // The refusal went to the chat's logger too.
    expect(records).toContain('connection refused');
  });

  it('is not served when metrics are off', async () => {
    harness = await startChatHarness({ metrics: false });
    expect((await scrape(harness.server.url)).status).toBe(404);
  });
});
