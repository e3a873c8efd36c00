import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import type { SystemAdapter } from './types.js';

type Tracked = WebSocket & { isAlive?: boolean; key?: string };

/** JSON for objects, binary frames for bytes: what an application on raw ws would do. */
function encode(data: unknown): Buffer | string {
  return data instanceof Uint8Array ? (data as Buffer) : JSON.stringify(data);
}

function decode(data: Buffer, isBinary: boolean): unknown {
  return isBinary ? data : JSON.parse(data.toString('utf8'));
}

/**
 * Raw `ws` 8.23: no sessions, no resume. The heartbeat, when asked for, is the usual ws recipe
 * (README "How to detect and close broken connections"): one setInterval pings every client
 * and terminates the ones that did not answer the previous ping.
 */
export const wsSystem: SystemAdapter = {
  async startServer(options, hooks) {
    const http = createServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
    const room = new Set<WebSocket>();
    const echo = options.echo ?? true;
    const { onMessage, onSession } = hooks;
    wss.on('connection', (socket: Tracked, request) => {
      const key = new URL(request.url ?? '/', 'http://x').searchParams.get('key') ?? '';
      socket.key = key;
      socket.isAlive = true;
      room.add(socket);
      onSession?.(key, false);
      socket.on('pong', () => {
        socket.isAlive = true;
      });
      socket.on('message', (data: Buffer, isBinary) => {
        if (onMessage) {
          const message = decode(data, isBinary);
          onMessage(key, message, false);
          if (echo) socket.send(encode(message));
        } else if (echo) {
          socket.send(encode(decode(data, isBinary)));
        }
      });
      socket.on('close', () => {
        room.delete(socket);
        hooks.onLost(key, socket.isAlive ? 'closed' : 'ping timeout');
      });
      socket.on('error', () => {});
    });
    let heartbeat: NodeJS.Timeout | undefined;
    if (options.heartbeat) {
      heartbeat = setInterval(() => {
        for (const socket of wss.clients as Set<Tracked>) {
          if (socket.isAlive === false) {
            socket.terminate();
            continue;
          }
          socket.isAlive = false;
          socket.ping();
        }
      }, options.heartbeat.intervalMs);
    }
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return {
      port: (http.address() as AddressInfo).port,
      connections: () => wss.clients.size,
      roomSize: () => room.size,
      broadcast(data) {
        // Encoded once; every member gets the same bytes.
        const bytes = data instanceof Uint8Array ? data : Buffer.from(JSON.stringify(data));
        const binary = data instanceof Uint8Array;
        for (const socket of room) socket.send(bytes, { binary });
      },
      sendEach(make, sent) {
        let count = 0;
        for (const socket of room as Set<Tracked>) {
          const key = socket.key ?? '';
          const data = make(key);
          socket.send(encode(data));
          sent(key, data);
          count++;
        }
        return count;
      },
      info: () => ({}),
      async close() {
        if (heartbeat) clearInterval(heartbeat);
        for (const socket of wss.clients) socket.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    };
  },

  connect(url, options, hooks) {
    const target = options.key ? `${url}?key=${encodeURIComponent(options.key)}` : url;
    const socket = new WebSocket(target, {
      perMessageDeflate: false,
      ...(options.localAddress && { localAddress: options.localAddress }),
    });
    const onProbe = hooks.onProbe;
    if (onProbe) socket.on('ping', () => onProbe());
    const opened = new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    opened.catch(() => {});
    socket.on('message', (data: Buffer, isBinary) => hooks.onMessage(decode(data, isBinary)));
    // Raw ws has no client-side heartbeat: 'close' only comes when TCP itself gives up.
    socket.on('close', () => hooks.onDown?.('closed'));
    socket.on('error', () => {});
    return {
      opened,
      send: (data) => socket.send(encode(data)),
      close: () => socket.terminate(),
    };
  },
};
