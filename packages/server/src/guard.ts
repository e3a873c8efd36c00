import { EventEmitter } from 'eventemitter3';

/** Where a throwing application handler is reported. */
export type ErrorSink = (error: unknown) => void;

const emit = EventEmitter.prototype.emit as (event: unknown, ...args: unknown[]) => boolean;

/**
 * Emits an event to application handlers (with EventEmitter's own `emit`: a session's `emit`
 * sends a named event to its client). A handler that throws must not take the process
 * down (it may run inside a socket listener or the timer wheel), nor end a session, nor let its
 * message reach a peer: the error goes to `report`, and the caller carries on.
 */
export function emitGuarded<Events extends EventEmitter.ValidEventTypes>(
  emitter: EventEmitter<Events>,
  report: ErrorSink,
  event: EventEmitter.EventNames<Events>,
  ...args: EventEmitter.EventArgs<Events, EventEmitter.EventNames<Events>>
): void {
  try {
    emit.call(emitter, event, ...args);
  } catch (error) {
    report(error);
  }
}
