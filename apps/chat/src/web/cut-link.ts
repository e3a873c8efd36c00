import type { WebSocketConstructor, WebSocketLike } from '@probe/client';

/** The native WebSocket (the browser's, or `ws` in Node) the wrapper drives. */
export type NativeSocket = WebSocketLike;

export type NativeSocketConstructor = new (url: string) => NativeSocket;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

/**
 * A switch that turns this tab's WebSocket traffic into a blackhole, the way a dead Wi-Fi or a
 * NAT that forgot the connection does: bytes vanish in both directions and nobody hears a FIN.
 * Pass `link.WebSocket` as the ProbeClient's `WebSocket` option.
 *
 * While cut:
 * - sockets that exist stop delivering anything: sends are dropped, and incoming messages,
 *   `open`, `close` and `error` are swallowed. The SDK only learns of it from silence (its
 *   watchdog), the server from an unanswered probe.
 * - new sockets never open, so connect attempts run into the client's connect timeout.
 *
 * When the cut ends, new sockets behave normally. A socket that was cut stays dead: data it
 * dropped is gone, so it must never carry traffic again. Its native socket is closed quietly.
 */
export class CutLink {
  /** The constructor to hand to `new ProbeClient(url, { WebSocket })`. */
  readonly WebSocket: WebSocketConstructor;
  private readonly live = new Set<CuttableSocket>();
  private readonly cutSockets = new Set<CuttableSocket>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private until: number | null = null;
  private readonly listeners = new Set<(cutUntil: number | null) => void>();

  constructor(Native: NativeSocketConstructor) {
    const link = this;
    this.WebSocket = class extends CuttableSocket {
      constructor(url: string) {
        super(url, Native, link);
      }
    };
  }

  /** True while traffic is being dropped. */
  get isCut(): boolean {
    return this.until !== null;
  }

  /** When the current cut ends (`Date.now()` time), or null. */
  get cutUntil(): number | null {
    return this.until;
  }

  /** Drops all traffic for `ms` milliseconds (extends a cut already running). */
  cut(ms: number): void {
    for (const socket of this.live) {
      socket.severed = true;
      this.cutSockets.add(socket);
    }
    this.live.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.until = Date.now() + ms;
    this.timer = setTimeout(() => this.restore(), ms);
    this.notify();
  }

  /** Ends the cut now. Sockets that were cut stay dead; new ones work. */
  restore(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.until === null) return;
    this.until = null;
    for (const socket of this.cutSockets) socket.discard();
    this.cutSockets.clear();
    this.notify();
  }

  /** Calls `listener` with the end time when a cut starts and with null when it ends. */
  onChange(listener: (cutUntil: number | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal */
  register(socket: CuttableSocket): void {
    this.live.add(socket);
  }

  /** @internal */
  forget(socket: CuttableSocket): void {
    this.live.delete(socket);
  }

  private notify(): void {
    for (const listener of this.listeners) listener(this.until);
  }
}

/** One connection attempt. Exported for the type only; create it through `CutLink`. */
class CuttableSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  /** @internal true once a cut caught this socket: it never carries traffic again. */
  severed = false;
  private readonly native: NativeSocket | null;
  private type = 'blob';
  private closedByApp = false;

  constructor(url: string, Native: NativeSocketConstructor, link: CutLink) {
    if (link.isCut) {
      // Created during a cut: like a SYN into the void, it never opens.
      this.native = null;
      return;
    }
    const native = new Native(url);
    this.native = native;
    link.register(this);
    native.onopen = (event) => {
      if (!this.severed) this.onopen?.(event);
    };
    native.onmessage = (event) => {
      if (!this.severed) this.onmessage?.(event);
    };
    native.onerror = (event) => {
      if (!this.severed) this.onerror?.(event);
    };
    native.onclose = (event) => {
      link.forget(this);
      if (!this.severed) this.onclose?.(event);
    };
  }

  get binaryType(): string {
    return this.native?.binaryType ?? this.type;
  }

  set binaryType(value: string) {
    this.type = value;
    if (this.native) this.native.binaryType = value;
  }

  get readyState(): number {
    if (this.closedByApp) return CLOSED;
    if (!this.native) return CONNECTING;
    // A cut socket looks alive to its owner: that is what makes the path half-open.
    return this.severed ? OPEN : this.native.readyState;
  }

  send(data: Uint8Array): void {
    if (this.severed || this.closedByApp || !this.native) return;
    this.native.send(data as Uint8Array<ArrayBuffer>);
  }

  close(code?: number, reason?: string): void {
    if (this.closedByApp) return;
    this.closedByApp = true;
    // A cut socket is closed when the cut ends: a close frame now would reach the server.
    if (this.severed || !this.native) return;
    this.native.close(code, reason);
  }

  /** @internal the cut is over: close the native socket without telling anyone. */
  discard(): void {
    const native = this.native;
    if (!native) return;
    native.onopen = native.onmessage = native.onclose = null;
    native.onerror = () => {};
    try {
      native.close();
    } catch {
      // Already closed or never opened: nothing to do.
    }
  }
}
