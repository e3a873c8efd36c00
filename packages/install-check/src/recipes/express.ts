// packages/server/README.md, "Express".
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { ProbeServer } from '@probe/server';
import express from 'express';
import { echo, type Started } from './echo.js';

export async function withExpress(port: number): Promise<Started> {
  const app = express();
  app.get('/health', (_request, response) => {
    response.send('ok');
  });
  const http = app.listen(port, '127.0.0.1'); // Express 5 returns the http.Server
  const probe = new ProbeServer({ server: http, path: '/probe' });
  probe.on('session', echo);

  await once(http, 'listening');
  const { port: bound } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${bound}/probe`,
    async close() {
      await probe.close();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
