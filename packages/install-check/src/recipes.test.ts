// Runs each server recipe of packages/server/README.md against the built packages (resolved
// through their package.json exports, as for users): a client connects, a message goes to the
// server and back, and everything closes.
import { ProbeClient } from '@probe/client';
import { describe, expect, test } from 'vitest';
import type { Started } from './recipes/echo.js';
import { withExpress } from './recipes/express.js';
import { withFastify } from './recipes/fastify.js';
import { httpServer } from './recipes/http-server.js';
import { noServer } from './recipes/no-server.js';
import { standalone } from './recipes/standalone.js';

async function roundTrip(url: string): Promise<unknown> {
  const client = new ProbeClient<{ echo: string }, { echo: string }>(url);
  try {
    const reply = new Promise<unknown>((resolve, reject) => {
      client.once('message', resolve);
      client.once('close', ({ code, reason }) => reject(new Error(`closed ${code}: ${reason}`)));
    });
    client.send({ echo: url });
    return await reply;
  } finally {
    client.close();
  }
}

/** Name, recipe, and whether the framework's own routes are served beside Probe. */
const recipes: [string, (port: number) => Promise<Started>, boolean][] = [
  ['a standalone port (listen)', standalone, false],
  ['an existing http.Server ({ server, path })', httpServer, false],
  ['Express', withExpress, true],
  ['Fastify', withFastify, true],
  ['noServer + handleUpgrade', noServer, false],
];

describe('server README recipes', () => {
  test.each(recipes)('%s', async (_name, start, hasRoutes) => {
    const started = await start(0);
    try {
      expect(await roundTrip(started.url)).toEqual({ echo: started.url });
      if (hasRoutes) {
        const health = new URL('/health', started.url.replace('ws://', 'http://'));
        const response = await fetch(health);
        expect(await response.text()).toBe('ok');
      }
    } finally {
      await started.close();
    }
  });
});
