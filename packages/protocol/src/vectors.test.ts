import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ExchangeFile } from './conformance/format.js';
import {
  BASE_OPTIONS,
  DEVIATIONS,
  loadWs,
  startReferenceServer,
} from './conformance/reference-server.js';
import { runExchange } from './conformance/runner.js';
import { wsConnect } from './conformance/socket.js';

// Every exchange of vectors/exchanges.json against a reference server on 127.0.0.1, one
// server per exchange, set up for what the exchange requires.
const file = JSON.parse(
  readFileSync(new URL('../vectors/exchanges.json', import.meta.url), 'utf8'),
) as ExchangeFile;
const connect = wsConnect(loadWs());

describe('exchanges.json against the reference server', () => {
  it('names every exchange once and lists every requirement it uses', () => {
    const names = file.exchanges.map((exchange) => exchange.name);
    expect(new Set(names).size).toBe(names.length);
    const used = new Set(file.exchanges.flatMap((exchange) => exchange.requires ?? []));
    expect([...used].filter((name) => !(name in (file.requirements ?? {})))).toEqual([]);
    for (const name of DEVIATIONS.keys()) expect(names).toContain(name);
  });

  for (const exchange of file.exchanges) {
    const deviation = DEVIATIONS.get(exchange.name);
    const test = deviation === undefined ? it : it.fails;
    test(deviation ? `${exchange.name} (deviates: ${deviation})` : exchange.name, async () => {
      const server = await startReferenceServer(exchange.requires ?? []);
      try {
        const result = await runExchange(file, exchange, {
          url: server.url,
          connect,
          parameters: { handshakeTimeoutMs: BASE_OPTIONS.handshakeTimeoutMs },
        });
        expect(result.detail).toBeUndefined();
        expect(result.status).toBe('passed');
      } finally {
        await server.close();
      }
    }, 15_000);
  }
});
