// packages/server/README.md, "An existing http.Server".
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProbeServer } from '@probe/server';
import { echo, type Started } from './echo.js';

export async function httpServer(port: number): Promise<Started> {
  const http = createServer((_request, response) => response.end('hello over plain HTTP\n'));
  const probe = new ProbeServer({ server: http, path: '/probe' });
  probe.on('session', echo);
  http.listen(port, '127.0.0.1');

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
