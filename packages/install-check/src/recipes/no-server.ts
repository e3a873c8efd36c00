// packages/server/README.md, "noServer + handleUpgrade".
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProbeServer } from '@probe/server';
import { echo, type Started } from './echo.js';

export async function noServer(port: number): Promise<Started> {
  const http = createServer();
  const probe = new ProbeServer({ noServer: true });
  probe.on('session', echo);
  http.on('upgrade', (request, socket, head) => {
    const { pathname } = new URL(request.url ?? '/', 'http://localhost');
    if (pathname === '/probe') probe.handleUpgrade(request, socket, head);
    else socket.destroy(); // or hand it to another WebSocket server
  });
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
