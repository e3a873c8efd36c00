// A WebSocket server that speaks the Probe protocol by hand, frame by frame or byte by byte, so
// it can do what no correct server does; and what a real ProbeClient facing it reports.

import type { AddressInfo, Socket } from 'node:net';
import type {
  CloseInfo,
  DisconnectInfo,
  OpenInfo,
  ProbeClient,
  ProbeClientOptions,
  SessionLostInfo,
  WebSocketConstructor,
} from '@probe/client';
import {
  type ClientFrame,
  decodeFromClient,
  encode,
  encodeGoodbye,
  encodeMessage,
  encodePayload,
  encodeProbe,
  type Frame,
  FrameType,
  type HelloFrame,
  PROTOCOL_VERSION,
  type WelcomeFrame,
} from '@probe/protocol';
import { once, sleep, waitFor } from '@probe/testkit';
import { vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';

/** A well-formed WELCOME for a new session; tests override fields to break it. */
export const WELCOME: WelcomeFrame = {
  type: FrameType.WELCOME,
  version: PROTOCOL_VERSION,
  sessionId: 'session-1',
  token: 'token-1',
  probeIntervalMs: 10_000,
  probeTimeoutMs: 5_000,
  maxPayloadBytes: 1 << 20,
  resumed: false,
  lastSeq: 0,
  sentSeq: 0,
};

/**
 * The bytes of any array as a MessagePack frame, whatever its elements: a WELCOME with a
 * number for a session id, a GOODBYE with a float code. Nothing is validated on the way.
 */
export function frameBytes(elements: readonly unknown[]): Uint8Array {
  // encodePayload writes a MESSAGE's array marker first; the rest is the value's bytes.
  return encodePayload(elements).subarray(1);
}

/** A WELCOME's elements in wire order, with `fields` replacing the defaults. */
export function welcomeElements(fields: Record<string, unknown> = {}): unknown[] {
  const w: Record<string, unknown> = { ...WELCOME, ...fields };
  return [
    w.type,
    w.version,
    w.sessionId,
    w.token,
    w.probeIntervalMs,
    w.probeTimeoutMs,
    w.maxPayloadBytes,
    w.resumed,
    w.lastSeq,
    w.sentSeq,
  ];
}

/** One connection to the scripted server: what the client sent, and how it ended. */
export class Peer {
  readonly frames: ClientFrame[] = [];
  /** Messages from the client that are not a valid client frame (there should be none). */
  readonly invalid: unknown[] = [];
  closeCode: number | null = null;
  closeReason = '';
  readonly closed: Promise<void>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      try {
        this.frames.push(decodeFromClient(isBinary ? new Uint8Array(data) : data.toString()));
      } catch (error) {
        this.invalid.push(error);
      }
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve();
      });
    });
  }

  /** The TCP socket under the WebSocket, to write bytes no WebSocket library would. */
  get tcp(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  async hello(timeoutMs = 2000): Promise<HelloFrame> {
    await waitFor(() => this.frames.length > 0, { timeoutMs, message: 'a HELLO' });
    return this.frames[0] as HelloFrame;
  }

  /** Waits for the HELLO, then welcomes with `fields` over the defaults. */
  async welcome(fields: Partial<WelcomeFrame> = {}): Promise<HelloFrame> {
    const hello = await this.hello();
    this.send({ ...WELCOME, ...fields });
    return hello;
  }

  send(frame: Frame): void {
    this.raw(encode(frame));
  }

  raw(bytes: Uint8Array | readonly number[]): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
    }
  }

  text(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  message(seq: number, data: unknown): void {
    this.raw(encodeMessage(seq, data));
  }

  probe(id: number): void {
    this.raw(encodeProbe(id));
  }

  /** A GOODBYE, then (unless `thenClose` is false) a WebSocket close with the same code. */
  goodbye(code: number, reason = '', thenClose = true): void {
    this.raw(encodeGoodbye(code, reason));
    if (thenClose) this.ws.close(code, reason);
  }

  /** The frames of one type the client sent on this connection. */
  sent<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.frames.filter((f) => f.type === type) as Extract<ClientFrame, { type: T }>[];
  }

  async waitClosed(timeoutMs = 2000): Promise<void> {
    await Promise.race([
      this.closed,
      sleep(timeoutMs).then(() => {
        throw new Error(`the client did not close the connection within ${timeoutMs} ms`);
      }),
    ]);
  }
}

export interface HostileServer {
  url: string;
  /** Every connection so far, in order. */
  readonly peers: Peer[];
  /** When each connection was accepted (performance.now()). */
  readonly acceptedAt: number[];
  nextPeer(index: number, timeoutMs?: number): Promise<Peer>;
  close(): Promise<void>;
}

/**
 * A `ws` server on 127.0.0.1 that runs `script` for every connection (or nothing: the test
 * drives each peer itself through `nextPeer`).
 */
export async function startHostileServer(
  script?: (peer: Peer, index: number) => void | Promise<void>,
): Promise<HostileServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const peers: Peer[] = [];
  const acceptedAt: number[] = [];
  wss.on('connection', (ws) => {
    const peer = new Peer(ws);
    acceptedAt.push(performance.now());
    peers.push(peer);
    // A script that throws fails the test through its own assertions, not the process.
    void Promise.resolve(script?.(peer, peers.length - 1)).catch(() => {});
  });
  const { port } = wss.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    peers,
    acceptedAt,
    async nextPeer(index, timeoutMs = 2000) {
      await waitFor(() => peers.length > index, { timeoutMs, message: `connection ${index}` });
      return peers[index]!;
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/** Everything a client reported through its events, in arrival order per event. */
export class ClientLog<Out = unknown> {
  readonly errors: unknown[] = [];
  readonly disconnects: DisconnectInfo[] = [];
  readonly closes: CloseInfo<Out>[] = [];
  readonly lost: SessionLostInfo<Out>[] = [];
  readonly opens: OpenInfo[] = [];
  readonly messages: unknown[] = [];

  constructor(client: ProbeClient<unknown, Out>) {
    client.on('error', (error) => this.errors.push(error));
    client.on('disconnect', (info) => this.disconnects.push(info));
    client.on('close', (info) => this.closes.push(info));
    client.on('session-lost', (info) => this.lost.push(info));
    client.on('open', (info) => this.opens.push(info));
    client.on('message', (data) => this.messages.push(data));
  }

  /** Resolves with the client's final 'close'. */
  async closed(timeoutMs = 2000): Promise<CloseInfo<Out>> {
    return waitFor(() => this.closes[0], { timeoutMs, message: "the client's 'close'" });
  }
}

/** Reconnects fast enough that a missing backoff or a retry that should not happen shows at once. */
export const QUICK_RECONNECT = { initialDelayMs: 10, maxDelayMs: 40, connectTimeoutMs: 2000 };

/** Client options for these suites: quick retries, no autoConnect surprises. */
export function quickOptions(options: ProbeClientOptions = {}): ProbeClientOptions {
  return { ...options, reconnect: { ...QUICK_RECONNECT, ...options.reconnect } };
}

/** A `ws` WebSocket constructor that keeps every socket it makes, to read `bufferedAmount`. */
export function trackedWebSocket(): { WebSocket: WebSocketConstructor; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: Tracked as unknown as WebSocketConstructor, sockets };
}

/**
 * How many timers (setTimeout, setInterval) the whole process creates while `run` runs: a
 * client that spins on a 1 ms timer makes hundreds in a second, an idle one a few.
 */
export async function countTimers(run: () => Promise<unknown>): Promise<number> {
  const spies = [vi.spyOn(globalThis, 'setTimeout'), vi.spyOn(globalThis, 'setInterval')];
  try {
    await run();
    return spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** {@link countTimers} over a wait of `ms`. */
export function timersCreatedDuring(ms: number): Promise<number> {
  return countTimers(() => sleep(ms));
}

/**
 * Collects exceptions and rejections nothing handled while a test ran. The client must never
 * let one escape from a socket callback, whatever the server sends.
 */
export function watchProcess(): { escaped: unknown[]; stop(): void } {
  const escaped: unknown[] = [];
  const onError = (error: unknown) => escaped.push(error);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    escaped,
    stop() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}
