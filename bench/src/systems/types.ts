/** The systems compared side by side. */
export const SYSTEMS = [
  'ws',
  'socketio',
  'socketio-recovery',
  'probe',
  'socketio-redis',
  'probe-redis',
  'socketio-redis-pubsub',
  'probe-redis-volatile',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

export const SYSTEM_LABELS: Record<SystemName, string> = {
  ws: 'raw ws',
  socketio: 'Socket.IO',
  'socketio-recovery': 'Socket.IO + recovery',
  probe: 'Probe',
  'socketio-redis': 'Socket.IO + recovery + Redis streams adapter',
  'probe-redis': 'Probe + RedisSessionStore',
  'socketio-redis-pubsub': 'Socket.IO + Redis adapter (pub/sub)',
  'probe-redis-volatile': 'Probe + RedisSessionStore, volatile broadcasts',
};

/** Systems that keep their state in a shared Redis, so several server nodes serve one app. */
export const SHARED_SYSTEMS: readonly SystemName[] = [
  'socketio-redis',
  'probe-redis',
  'socketio-redis-pubsub',
  'probe-redis-volatile',
];

/** Room every connection joins on arrival (fan-out broadcasts to it). */
export const ROOM = 'bench';

export interface Heartbeat {
  intervalMs: number;
  timeoutMs: number;
}

/** Where a shared system keeps its state, and the knobs of its hand-over between nodes. */
export interface SharedStore {
  redisUrl: string;
  /** Probe: how long a node taking a session over waits for the previous owner to let go. */
  handoverTimeoutMs?: number;
  /** Probe: how often a node tells Redis it is alive (it counts as dead after three misses). */
  nodeHeartbeatMs?: number;
}

export interface ServerOptions {
  /** Heartbeat/probe schedule; undefined leaves each system at its defaults. */
  heartbeat?: Heartbeat | undefined;
  /** Required by the shared systems ({@link SHARED_SYSTEMS}), ignored by the others. */
  shared?: SharedStore | undefined;
  /** Echo every message to its sender (default true). */
  echo?: boolean | undefined;
}

export interface ServerHooks {
  /** The server noticed that the connection of client `key` is gone. */
  onLost(key: string, reason: string): void;
  /**
   * A message from client `key` reached the application. `redelivered` is Probe's mark on a
   * message that may have reached the application before (on a node that was killed).
   */
  onMessage?(key: string, data: unknown, redelivered: boolean): void;
  /**
   * A session (Socket.IO: a socket) opened here; `moved` when it carried on from another
   * connection or node (Probe: moved here from another node; Socket.IO: recovered).
   */
  onSession?(key: string, moved: boolean): void;
}

/**
 * Server side of a system, with the same application on every system: each connection joins
 * {@link ROOM} and every message is echoed back to its sender.
 */
export interface BenchServer {
  readonly port: number;
  /** Open transport connections. */
  connections(): number;
  /** Members of {@link ROOM} on this node (Probe: those whose `session.join()` resolved). */
  roomSize(): number;
  /**
   * Sends `data` to every member of {@link ROOM} (with a shared system, on every node);
   * Probe + RedisSessionStore, volatile broadcasts: `{ volatile: true }`.
   */
  broadcast(data: unknown): void;
  /**
   * Sends one message to every client this node serves, as the application knows them (Probe:
   * every session from its 'session' event to its 'close', open or suspended; Socket.IO: every
   * connected socket; ws: every open connection); `sent` runs after each send returned.
   * @returns how many messages were sent.
   */
  sendEach(make: (key: string) => unknown, sent: (key: string, data: unknown) => void): number;
  /** Extra system-specific numbers for the report. */
  info(): Record<string, unknown>;
  /**
   * Stops serving. Probe with a shared store hands its sessions over to the other nodes
   * (`server.close()`), so their clients resume elsewhere.
   */
  close(): Promise<void>;
}

export interface ClientOptions {
  /** Identifies the client to the server (detection/resume trials). */
  key?: string;
  /** Reconnect (and resume, where the system can) after a connection loss. */
  reconnect: boolean;
  /** Loopback source address to connect from (127.0.0.x), so many clients fit the port range. */
  localAddress?: string | undefined;
}

export interface ClientHooks {
  onMessage(data: unknown): void;
  /**
   * The server's heartbeat reached this client (ws: a ping, Socket.IO: an engine.io ping,
   * Probe: a PROBE frame). Only the idle scenario listens.
   */
  onProbe?(): void;
  /** The client noticed that its connection is gone. */
  onDown?(reason: string): void;
  /** A connection (re)opened after the first one; `resumed` when the session carried on. */
  onUp?(resumed: boolean): void;
  /** The client stopped for good (Probe: its 'close' event) other than by `close()`. */
  onClosed?(reason: string): void;
  /** The session could not be resumed (Probe: 'session-lost'). */
  onSessionLost?(reason: string, unconfirmed: number): void;
}

export interface BenchClient {
  /** Resolves when the first connection is open and usable. */
  readonly opened: Promise<void>;
  send(data: unknown): void;
  close(): void;
}

export type ServerFactory = (options: ServerOptions, hooks: ServerHooks) => Promise<BenchServer>;
export type ClientFactory = (
  url: string,
  options: ClientOptions,
  hooks: ClientHooks,
) => BenchClient;

export interface SystemAdapter {
  startServer: ServerFactory;
  connect: ClientFactory;
}
