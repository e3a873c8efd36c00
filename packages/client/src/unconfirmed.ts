import { decodeOwnMessage } from '@probe/protocol';

/** A named event the server never acknowledged. */
export interface UnconfirmedEvent {
  event: string;
  payload: unknown;
}

/** What a client reports as never acknowledged when its session ends. */
export interface Unconfirmed<Out> {
  /** Plain messages (`send()`), oldest first. */
  unconfirmed: Out[];
  /** Named events (`emit()`), oldest first. */
  unconfirmedEvents: UnconfirmedEvent[];
  /** The newest plain messages, never written to a connection: they did not arrive. */
  unsent: Out[];
}

/**
 * Sorts the frames of a session's replay queue for the application: plain messages and named
 * events, each with its name. Requests are left out (their promises reject with the reason),
 * and so are replies to the server's requests (the server's side times out or ends).
 * @param unsent how many of the newest frames were never written to a connection.
 */
export function sortUnconfirmed<Out>(
  frames: readonly Uint8Array[],
  unsent: number,
): Unconfirmed<Out> {
  const out: Unconfirmed<Out> = { unconfirmed: [], unconfirmedEvents: [], unsent: [] };
  const firstUnsent = frames.length - unsent;
  frames.forEach((frame, i) => {
    const message = decodeOwnMessage(frame);
    if (!message || message.call != null) return;
    if (message.event != null) {
      out.unconfirmedEvents.push({ event: message.event, payload: message.data });
    } else {
      out.unconfirmed.push(message.data as Out);
      if (i >= firstUnsent) out.unsent.push(message.data as Out);
    }
  });
  return out;
}
