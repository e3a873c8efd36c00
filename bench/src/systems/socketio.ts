import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { ROOM, type SystemAdapter } from './types.js';

const EVENT = 'm';

/**
 * Socket.IO 4.8 with the websocket transport only on both sides; with `recovery` the server
 * enables connection state recovery (missed server→client packets replayed on reconnect).
 */
export function socketIoSystem(recovery: boolean): SystemAdapter {
  return {
    async startServer(options, hooks) {
      const http = createServer();
      const server = new Server(http, {
        transports: ['websocket'],
        serveClient: false,
        ...(options.heartbeat && {
          pingInterval: options.heartbeat.intervalMs,
          pingTimeout: options.heartbeat.timeoutMs,
        }),
        ...(recovery && {
          connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
        }),
      });
      server.on('connection', (socket) => {
        const key = String((socket.handshake.auth as { key?: string }).key ?? '');
        socket.join(ROOM);
        socket.on(EVENT, (data: unknown) => {
          socket.emit(EVENT, data);
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
        info: () => ({}),
        async close() {
          server.disconnectSockets(true);
          http.closeAllConnections();
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    },

    connect(url, options, hooks) {
      const socket = io(url, {
        transports: ['websocket'],
        forceNew: true,
        reconnection: options.reconnect,
        auth: { key: options.key ?? '' },
      });
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
