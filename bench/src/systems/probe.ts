import { ProbeClient } from '@probe/client';
import { ProbeServer } from '@probe/server';
import { ROOM, type SystemAdapter } from './types.js';

/** Probe with its defaults, except the probe schedule when a scenario sets one. */
export const probeSystem: SystemAdapter = {
  async startServer(options, hooks) {
    const server = new ProbeServer<string>({
      ...(options.heartbeat && {
        probeIntervalMs: options.heartbeat.intervalMs,
        probeTimeoutMs: options.heartbeat.timeoutMs,
      }),
      authenticate: (auth) => String((auth as { key?: string } | null)?.key ?? ''),
    });
    server.on('error', () => {});
    server.on('session', (session) => {
      server.rooms.join(ROOM, session);
      session.on('message', (data) => {
        session.send(data);
      });
      session.on('suspend', (reason) => hooks.onLost(session.data, reason));
    });
    const { port } = await server.listen(0, '127.0.0.1');
    return {
      port,
      connections: () => server.stats().connections,
      roomSize: () => server.rooms.members(ROOM).size,
      broadcast(data) {
        server.broadcast(data, { room: ROOM });
      },
      info: () => ({ scheduler: server.stats().scheduler }),
      close: () => server.close(),
    };
  },

  connect(url, options, hooks) {
    const client = new ProbeClient(url, {
      auth: { key: options.key ?? '' },
      reconnect: options.reconnect ? {} : { maxAttempts: 0 },
    });
    let first = true;
    let open = false;
    const opened = new Promise<void>((resolve, reject) => {
      client.on('open', ({ resumed }) => {
        open = true;
        if (first) {
          first = false;
          resolve();
        } else {
          hooks.onUp?.(resumed);
        }
      });
      client.on('close', ({ reason }) => reject(new Error(`probe client closed: ${reason}`)));
    });
    opened.catch(() => {});
    client.on('error', () => {});
    client.on('message', (data) => hooks.onMessage(data));
    client.on('state', (state) => {
      if (open && state !== 'open') {
        open = false;
        hooks.onDown?.(state);
      }
    });
    return {
      opened,
      send: (data) => {
        client.send(data);
      },
      close: () => client.close(),
    };
  },
};
