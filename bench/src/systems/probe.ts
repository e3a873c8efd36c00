import { ProbeClient } from '@probe/client';
import { FrameType } from '@probe/protocol';
import { ProbeServer, type Session, type SessionStore } from '@probe/server';
import { WebSocket } from 'ws';
import { type ClientHooks, type ClientOptions, ROOM, type SystemAdapter } from './types.js';

type ProbeWebSocket = NonNullable<ConstructorParameters<typeof ProbeClient>[1]>['WebSocket'];

/**
 * The client's WebSocket (`ws`), bound to a loopback source address and/or telling the idle
 * scenario about each PROBE frame (read from the first two bytes, before the client sees it).
 */
function socketFor(options: ClientOptions, hooks: ClientHooks): ProbeWebSocket | undefined {
  const { localAddress } = options;
  const onProbe = hooks.onProbe;
  if (localAddress === undefined && onProbe === undefined) return undefined;
  class BenchSocket extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false, ...(localAddress && { localAddress }) });
      if (onProbe) {
        this.on('message', (data: Buffer | ArrayBuffer, isBinary: boolean) => {
          if (!isBinary) return;
          const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
          if (bytes[0] === 0x92 && bytes[1] === FrameType.PROBE) onProbe();
        });
      }
    }
  }
  return BenchSocket as unknown as ProbeWebSocket;
}

/**
 * Probe with its defaults, except the probe schedule when a scenario sets one. With `shared`,
 * sessions live in Redis (`RedisSessionStore` from @probe/redis), so several nodes serve them.
 * With `volatile`, room broadcasts are sent with `{ volatile: true }` (at most once, not stored).
 */
export function probeSystem(shared: boolean, volatile = false): SystemAdapter {
  return {
    async startServer(options, hooks) {
      let store: (SessionStore & { close(): Promise<void> }) | undefined;
      if (shared) {
        if (!options.shared) throw new Error('probe-redis needs a Redis URL');
        const { RedisSessionStore } = await import('@probe/redis');
        store = new RedisSessionStore({
          url: options.shared.redisUrl,
          ...(options.shared.nodeHeartbeatMs && { heartbeatMs: options.shared.nodeHeartbeatMs }),
        });
      }
      const echo = options.echo ?? true;
      const server = new ProbeServer<string>({
        ...(options.heartbeat && {
          probeIntervalMs: options.heartbeat.intervalMs,
          probeTimeoutMs: options.heartbeat.timeoutMs,
        }),
        ...(store && { store }),
        ...(options.shared?.handoverTimeoutMs && {
          handoverTimeoutMs: options.shared.handoverTimeoutMs,
        }),
        authenticate: (auth) => String((auth as { key?: string } | null)?.key ?? ''),
      });
      server.on('error', () => {});
      const { onMessage, onSession } = hooks;
      // The sessions the application was told about, as an application keeps them: from
      // 'session' (new, or moved here) until 'close'. (`server.sessions()` also yields a
      // session whose takeover from another node is still under way.)
      const announced = new Set<Session<string>>();
      // Members whose `session.join(ROOM)` resolved: the membership is in effect.
      const joined = new Set<Session<string>>();
      server.on('session', (session, info) => {
        announced.add(session);
        session.on('close', () => {
          announced.delete(session);
          joined.delete(session);
        });
        session.join(ROOM).then(
          () => {
            if (session.state !== 'closed') joined.add(session);
          },
          () => {},
        );
        onSession?.(session.data, info.moved);
        if (onMessage) {
          session.on('message', (data, meta) => {
            onMessage(session.data, data, meta.redelivered);
            if (echo) session.send(data);
          });
        } else if (echo) {
          session.on('message', (data) => {
            session.send(data);
          });
        }
        session.on('suspend', (reason) => hooks.onLost(session.data, reason));
      });
      const { port } = await server.listen(0, '127.0.0.1');
      return {
        port,
        connections: () => server.stats().connections,
        roomSize: () => joined.size,
        broadcast(data) {
          server.broadcast(data, { room: ROOM, volatile });
        },
        sendEach(make, sent) {
          let count = 0;
          for (const session of announced) {
            if (session.state === 'closed') continue;
            const data = make(session.data);
            session.send(data);
            sent(session.data, data);
            count++;
          }
          return count;
        },
        info: () => {
          const { scheduler, sessions } = server.stats();
          return { scheduler, sessions };
        },
        async close() {
          await server.close();
          await store?.close();
        },
      };
    },

    connect(url, options, hooks) {
      const WebSocketClass = socketFor(options, hooks);
      const client = new ProbeClient(url, {
        ...(WebSocketClass && { WebSocket: WebSocketClass }),
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
      let closing = false;
      client.on('close', ({ reason }) => {
        if (!closing) hooks.onClosed?.(reason);
      });
      client.on('session-lost', ({ reason, unconfirmed }) =>
        hooks.onSessionLost?.(reason, unconfirmed.length),
      );
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
        close: () => {
          closing = true;
          client.close();
        },
      };
    },
  };
}
