import { ProbeClient } from '@probe/client';
import { ProbeServer } from '@probe/server';
import { afterEach, expect, it } from 'vitest';

let server: ProbeServer | undefined;
afterEach(async () => server?.close());

it('echoes', async () => {
  server = new ProbeServer({ probeIntervalMs: 100, probeTimeoutMs: 100 });
  server.on('session', (s) => s.on('message', (d) => s.send({ echo: d })));
  const { port } = await server.listen(0, '127.0.0.1');
  const client = new ProbeClient(`ws://127.0.0.1:${port}/`);
  const got = new Promise((r) => client.on('message', r));
  client.send('hi');
  expect(await got).toEqual({ echo: 'hi' });
  await new Promise((r) => setTimeout(r, 500));
  expect(server.stats().sessions.open).toBe(1);
  client.close();
});
