/** The systems compared side by side. */
export const SYSTEMS = ['ws', 'socketio', 'socketio-recovery', 'probe'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export const SYSTEM_LABELS: Record<SystemName, string> = {
  ws: 'raw ws',
  socketio: 'Socket.IO',
  'socketio-recovery': 'Socket.IO + recovery',
  probe: 'Probe',
};

/** Room every connection joins on arrival (fan-out broadcasts to it). */
export const ROOM = 'bench';

export interface Heartbeat {
  intervalMs: number;
  timeoutMs: number;
}

export interface ServerOptions {
  /** Heartbeat/probe schedule; undefined leaves each system at its defaults. */
  heartbeat?: Heartbeat | undefined;
}

export interface ServerHooks {
  /** The server noticed that the connection of client `key` is gone. */
  onLost(key: string, reason: string): void;
}

/**
 * Server side of a system, with the same application on every system: each connection joins
 * {@link ROOM} and every message is echoed back to its sender.
 */
export interface BenchServer {
  readonly port: number;
  /** Open transport connections. */
  connections(): number;
  /** Members of {@link ROOM}. */
  roomSize(): number;
  /** Sends `data` to every member of {@link ROOM}. */
  broadcast(data: unknown): void;
  /** Extra system-specific numbers for the report. */
  info(): Record<string, unknown>;
  close(): Promise<void>;
}

export interface ClientOptions {
  /** Identifies the client to the server (detection/resume trials). */
  key?: string;
  /** Reconnect (and resume, where the system can) after a connection loss. */
  reconnect: boolean;
}

export interface ClientHooks {
  onMessage(data: unknown): void;
  /** The client noticed that its connection is gone. */
  onDown?(reason: string): void;
  /** A connection (re)opened after the first one; `resumed` when the session carried on. */
  onUp?(resumed: boolean): void;
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
