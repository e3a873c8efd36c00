import type { Socket } from 'node:net';

/** One client connection through a {@link FaultProxy}, with the faults it can inject. */
export interface ProxiedConnection {
  /** 1 for the first connection the proxy accepted, then +1 each. */
  readonly id: number;
  readonly blackholed: boolean;
  readonly latencyMs: number;
  /** Bytes written on to either endpoint so far. */
  readonly bytesForwarded: number;
  /** Bytes discarded by a blackhole (including chunks still delayed by latency when it began). */
  readonly bytesDropped: number;
  /** Resolves once both sockets are closed. Never rejects. */
  readonly closed: Promise<void>;
  /**
   * Stops forwarding in both directions while both sockets stay open: bytes that arrive are
   * read and discarded (reading on keeps TCP flow control out of the picture, as on a path
   * that loses packets), and a FIN or RST from either endpoint is withheld from the other.
   */
  blackhole(): void;
  /**
   * Forwards again. Only bytes arriving from now on are forwarded; dropped bytes stay lost.
   * A FIN or close withheld during the blackhole is passed on now, as TCP would retransmit it.
   */
  restore(): void;
  /** Aborts both sockets with a TCP RST. */
  reset(): void;
  /** Clean close: sends what is still delayed, then a FIN to both endpoints. */
  end(): void;
  /** Delays every chunk forwarded from now on by `ms` in each direction, keeping byte order. */
  setLatency(ms: number): void;
}

interface Delayed {
  readonly chunk: Buffer;
  readonly due: number;
}

/** One direction of a connection. */
interface Pipe {
  readonly src: Socket;
  readonly dst: Socket;
  readonly queue: Delayed[];
  /** Due time of the last queued chunk: later chunks never get an earlier one, so order holds. */
  lastDue: number;
  timer: NodeJS.Timeout | undefined;
  srcEnded: boolean;
  waitingForDrain: boolean;
}

/** Sends an RST where the socket allows one, else just destroys it. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // A socket still connecting has no TCP handle to reset yet; destroying it aborts the connect.
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/** @internal Built by the proxy for each accepted socket. */
export class Link implements ProxiedConnection {
  readonly id: number;
  readonly closed: Promise<void>;
  #blackholed = false;
  #latencyMs = 0;
  #bytesForwarded = 0;
  #bytesDropped = 0;
  readonly #pipes: readonly [Pipe, Pipe];
  readonly #closedWithError = new Map<Socket, boolean>();
  readonly #onForward: (bytes: number) => void;

  constructor(id: number, client: Socket, upstream: Socket, onForward: (bytes: number) => void) {
    this.id = id;
    this.#onForward = onForward;
    const pipe = (src: Socket, dst: Socket): Pipe => ({
      src,
      dst,
      queue: [],
      lastDue: 0,
      timer: undefined,
      srcEnded: false,
      waitingForDrain: false,
    });
    this.#pipes = [pipe(client, upstream), pipe(upstream, client)];
    const whenClosed = (socket: Socket) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) resolve();
        else socket.once('close', () => resolve());
      });
    this.closed = Promise.all([whenClosed(client), whenClosed(upstream)]).then(() => {
      for (const p of this.#pipes) this.#clearQueue(p, false);
    });
    for (const p of this.#pipes) {
      p.src.setNoDelay(true);
      p.src.on('data', (chunk: Buffer) => this.#onData(p, chunk));
      p.src.on('end', () => {
        p.srcEnded = true;
        this.#maybeEnd(p);
      });
      p.src.on('close', (hadError: boolean) => {
        this.#closedWithError.set(p.src, hadError);
        this.#propagateClose(p.src, p.dst);
      });
    }
  }

  get blackholed(): boolean {
    return this.#blackholed;
  }
  get latencyMs(): number {
    return this.#latencyMs;
  }
  get bytesForwarded(): number {
    return this.#bytesForwarded;
  }
  get bytesDropped(): number {
    return this.#bytesDropped;
  }

  blackhole(): void {
    this.#blackholed = true;
    for (const p of this.#pipes) {
      // Packets in flight on a path that goes dark are lost too.
      this.#clearQueue(p, true);
      // A source paused for backpressure must read on, or the sender would see a stall
      // instead of a blackhole.
      if (!p.src.destroyed) p.src.resume();
    }
  }

  restore(): void {
    if (!this.#blackholed) return;
    this.#blackholed = false;
    for (const p of this.#pipes) {
      this.#maybeEnd(p);
      if (p.src.destroyed) this.#propagateClose(p.src, p.dst);
    }
  }

  reset(): void {
    for (const p of this.#pipes) {
      this.#clearQueue(p, true);
      resetSocket(p.src);
    }
  }

  end(): void {
    for (const p of this.#pipes) {
      for (const { chunk } of p.queue.splice(0)) this.#write(p, chunk);
      this.#clearQueue(p, false);
      if (!p.dst.destroyed && !p.dst.writableEnded) p.dst.end();
    }
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be >= 0, got ${ms}`);
    this.#latencyMs = ms;
  }

  #onData(p: Pipe, chunk: Buffer): void {
    if (this.#blackholed) {
      this.#bytesDropped += chunk.length;
      return;
    }
    if (this.#latencyMs === 0 && p.queue.length === 0) {
      this.#write(p, chunk);
      return;
    }
    const due = Math.max(performance.now() + this.#latencyMs, p.lastDue);
    p.lastDue = due;
    p.queue.push({ chunk, due });
    this.#schedule(p);
  }

  #schedule(p: Pipe): void {
    const head = p.queue[0];
    if (p.timer !== undefined || head === undefined) return;
    const wait = Math.max(0, Math.ceil(head.due - performance.now()));
    p.timer = setTimeout(() => {
      p.timer = undefined;
      this.#flush(p);
    }, wait);
    // The sockets keep the process alive while there is anywhere to deliver to.
    p.timer.unref();
  }

  #flush(p: Pipe): void {
    const now = performance.now();
    // A timer may fire a little early: checking `due` guarantees the full delay.
    while (p.queue.length > 0 && p.queue[0]!.due <= now) this.#write(p, p.queue.shift()!.chunk);
    this.#schedule(p);
    this.#maybeEnd(p);
  }

  #write(p: Pipe, chunk: Buffer): void {
    if (p.dst.destroyed || p.dst.writableEnded) {
      this.#bytesDropped += chunk.length;
      return;
    }
    this.#bytesForwarded += chunk.length;
    this.#onForward(chunk.length);
    if (p.dst.write(chunk) || p.waitingForDrain) return;
    p.waitingForDrain = true;
    p.src.pause();
    p.dst.once('drain', () => {
      p.waitingForDrain = false;
      if (!p.src.destroyed) p.src.resume();
    });
  }

  #clearQueue(p: Pipe, countDropped: boolean): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    for (const { chunk } of p.queue.splice(0)) {
      if (countDropped) this.#bytesDropped += chunk.length;
    }
  }

  /** Passes a FIN on once everything before it has been delivered. */
  #maybeEnd(p: Pipe): void {
    if (!p.srcEnded || this.#blackholed || p.queue.length > 0) return;
    if (!p.dst.destroyed && !p.dst.writableEnded) p.dst.end();
  }

  #propagateClose(gone: Socket, other: Socket): void {
    if (other.destroyed || this.#blackholed) return;
    if (this.#closedWithError.get(gone)) {
      for (const p of this.#pipes) this.#clearQueue(p, true);
      resetSocket(other);
      return;
    }
    // A clean close already sent its FIN through `end`; a source that vanished without one
    // (destroyed locally) still owes the other side a close.
    const p = this.#pipes.find((x) => x.src === gone)!;
    p.srcEnded = true;
    this.#maybeEnd(p);
  }
}
