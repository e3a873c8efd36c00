import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { ROOM, type SystemAdapter } from './types.js';

const EVENT = 'm';

/**
 * Socket.IO 4.8 with the websocket transport only on both sides; with `recovery` the server
 * enables connection state recovery (missed server→client packets replayed on reconnect).
 * With `shared: 'streams'`, nodes share state through Redis with
 * `@socket.io/redis-streams-adapter` (packets go through one Redis stream; with recovery, a
 * disconnected socket's session is stored in Redis, so it can be recovered on another node).
 * With `shared: 'pubsub'`, through `@socket.io/redis-adapter` 8.3 (Redis pub/sub: a broadcast
 * is published once and every node emits it to its own sockets; nothing is stored, so there is
 * no recovery across nodes).
 */
export function socketIoSystem(
  recovery: boolean,
  shared: 'streams' | 'pubsub' | false = false,
): SystemAdapter {
  return {
    async startServer(options, hooks) {
      let adapter: Record<string, unknown> = {};
      const redisClients: { quit(): Promise<unknown>; disconnect(): void }[] = [];
      if (shared) {
        if (!options.shared) throw new Error(`socketio-redis (${shared}) needs a Redis URL`);
        const { Redis } = await import('ioredis');
        const client = new Redis(options.shared.redisUrl);
        client.on('error', () => {});
        redisClients.push(client);
        if (shared === 'streams') {
          const { createAdapter } = await import('@socket.io/redis-streams-adapter');
          // A stream long enough that no packet of a run is trimmed before a recovery needs it.
          adapter = { adapter: createAdapter(client, { maxLen: 1_000_000 }) };
        } else {
          const { createAdapter } = await import('@socket.io/redis-adapter');
          const sub = client.duplicate();
          sub.on('error', () => {});
          redisClients.push(sub);
          adapter = { adapter: createAdapter(client, sub) };
        }
      }
      const echo = options.echo ?? true;
      const http = createServer();
      const server = new Server(http, {
        transports: ['websocket'],
        serveClient: false,
        ...adapter,
        ...(options.heartbeat && {
          pingInterval: options.heartbeat.intervalMs,
          pingTimeout: options.heartbeat.timeoutMs,
        }),
        ...(recovery && {
          connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
        }),
      });
      const { onMessage, onSession } = hooks;
      server.on('connection', (socket) => {
        const key = String((socket.handshake.auth as { key?: string }).key ?? '');
        socket.data = key;
        socket.join(ROOM);
        onSession?.(key, socket.recovered);
        socket.on(EVENT, (data: unknown) => {
          onMessage?.(key, data, false);
          if (echo) socket.emit(EVENT, data);
        });
        socket.on('disconnect', (reason) => hooks.onLost(key, reason));
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      return {
        port: (http.address() as AddressInfo).port,
        connections: () => server.engine.clientsCount,
        roomSize: () => server.of('/').adapter.rooms.get(ROOM)?.size ?? 0,
        broadcast(data) {
          server.to(ROOM).emit(EVENT, data);
        },
        sendEach(make, sent) {
          let count = 0;
          for (const socket of server.of('/').sockets.values()) {
            const key = socket.data as string;
            const data = make(key);
            socket.emit(EVENT, data);
            sent(key, data);
            count++;
          }
          return count;
        },
        info: () => ({}),
        async close() {
          server.disconnectSockets(true);
          http.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
          await Promise.all(
            redisClients.map((redis) => redis.quit().catch(() => redis.disconnect())),
          );
        },
      };
    },

    connect(url, options, hooks) {
      // engine.io-client hands `localAddress` to `ws` (its typings do not list it).
      const bind: Record<string, unknown> = options.localAddress
        ? { localAddress: options.localAddress }
        : {};
      const socket = io(url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: options.reconnect,
        auth: { key: options.key ?? '' },
        ...bind,
      });
      const onProbe = hooks.onProbe;
      // The Manager re-emits every engine.io ping (the server's heartbeat).
      if (onProbe) socket.io.on('ping', () => onProbe());
      let first = true;
      const opened = new Promise<void>((resolve, reject) => {
        socket.on('connect', () => {
          if (first) {
            first = false;
            resolve();
          } else {
            hooks.onUp?.(socket.recovered);
          }
        });
        if (!options.reconnect) socket.once('connect_error', reject);
      });
      opened.catch(() => {});
      socket.on(EVENT, (data: unknown) => hooks.onMessage(data));
      socket.on('disconnect', (reason) => hooks.onDown?.(reason));
      return {
        opened,
        send: (data) => {
          socket.emit(EVENT, data);
        },
        close: () => {
          socket.disconnect();
        },
      };
    },
  };
}
