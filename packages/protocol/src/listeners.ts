/**
 * Types only: the listener half of an EventEmitter (eventemitter3's API) for an event map `E`
 * of name → argument tuple. Probe's client and sessions expose it while their `emit` sends a
 * named event to the other side, as Socket.IO's do.
 */
export interface Listeners<E extends EventMap<E>> {
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void, context?: unknown): this;
  addListener<K extends keyof E>(
    event: K,
    listener: (...args: E[K]) => void,
    context?: unknown,
  ): this;
  once<K extends keyof E>(event: K, listener: (...args: E[K]) => void, context?: unknown): this;
  off<K extends keyof E>(
    event: K,
    listener?: (...args: E[K]) => void,
    context?: unknown,
    once?: boolean,
  ): this;
  removeListener<K extends keyof E>(
    event: K,
    listener?: (...args: E[K]) => void,
    context?: unknown,
    once?: boolean,
  ): this;
  removeAllListeners(event?: keyof E): this;
  listeners<K extends keyof E>(event: K): ((...args: E[K]) => void)[];
  listenerCount(event: keyof E): number;
  eventNames(): (string | symbol)[];
}

/** An event map: each event's listener arguments as a tuple. */
export type EventMap<E> = { [K in keyof E]: unknown[] };
