// Test support for this package's own tests: plain TCP endpoints that record what they see.

import net, { type Socket } from 'node:net';
import { waitFor } from './wait.js';

/** A socket plus everything it saw, so tests can assert on what really arrived. */
export interface Endpoint {
  readonly socket: Socket;
  /** Every byte received so far, as latin1 text. */
  received(): string;
  /** 'connect' | 'end' | 'close' | 'error:<code>', in order. */
  readonly events: string[];
  error: NodeJS.ErrnoException | undefined;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;
  /** Waits until `text` has arrived (anywhere in the stream). */
  waitForText(text: string, timeoutMs?: number): Promise<void>;
}

export function track(socket: Socket): Endpoint {
  const chunks: Buffer[] = [];
  const events: string[] = [];
  const endpoint: Endpoint = {
    socket,
    events,
    error: undefined,
    received: () => Buffer.concat(chunks).toString('latin1'),
    closed: new Promise((resolve) => socket.once('close', () => resolve())),
    waitForText: async (text, timeoutMs = 5000) => {
      await waitFor(() => endpoint.received().includes(text), {
        timeoutMs,
        message: `receipt of ${JSON.stringify(text)}`,
      });
    },
  };
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('connect', () => events.push('connect'));
  socket.on('end', () => events.push('end'));
  socket.on('close', () => events.push('close'));
  socket.on('error', (error: NodeJS.ErrnoException) => {
    endpoint.error = error;
    events.push(`error:${error.code}`);
  });
  return endpoint;
}

export interface TestServer {
  readonly port: number;
  /** Server-side sockets, in accept order. */
  readonly accepted: Endpoint[];
  /** Waits for the n-th (1-based) accepted socket. */
  nth(n: number): Promise<Endpoint>;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that records what arrives and, with `echo`, sends it back. */
export async function startServer(echo = false): Promise<TestServer> {
  const accepted: Endpoint[] = [];
  const server = net.createServer((socket) => {
    const endpoint = track(socket);
    accepted.push(endpoint);
    if (echo) socket.on('data', (chunk: Buffer) => socket.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted,
    nth: (n) => waitFor(() => accepted[n - 1], { message: `server connection #${n}` }),
    close: async () => {
      for (const { socket } of accepted) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects to 127.0.0.1:port; resolves once connected (or once it failed, see `error`). */
export async function connectTo(port: number): Promise<Endpoint> {
  const endpoint = track(net.connect({ port, host: '127.0.0.1' }));
  await waitFor(() => endpoint.events.length > 0, { message: 'client connect' });
  return endpoint;
}
