// packages/server/README.md, "Fastify".
import type { AddressInfo } from 'node:net';
import { ProbeServer } from '@probe/server';
import Fastify from 'fastify';
import { echo, type Started } from './echo.js';

export async function withFastify(port: number): Promise<Started> {
  const app = Fastify();
  app.get('/health', async () => 'ok');
  // Fastify's http.Server exists before listen(); Probe takes its upgrade requests.
  const probe = new ProbeServer({ server: app.server, path: '/probe' });
  probe.on('session', echo);
  // Close the WebSocket sessions first: the HTTP server waits for open connections.
  app.addHook('preClose', async () => {
    await probe.close();
  });
  await app.listen({ port, host: '127.0.0.1' });

  const { port: bound } = app.server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${bound}/probe`, close: () => app.close() };
}
