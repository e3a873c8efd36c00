import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** The parts of a `ws` 8 socket this module reads. */
interface WsInternals {
  readyState: number;
  _socket?: Duplex | null;
  _sender?: { _state?: number; _deflating?: boolean; _queue?: unknown[] } | null;
}

const OPEN = 1;
/** `ws`'s Sender state when it writes frames at once (nothing queued behind a Blob or deflate). */
const SENDER_IDLE = 0;

/**
 * Largest payload framed here: the frame (payload + a 2- or 4-byte header) then fits in a slice
 * of Node's shared buffer pool, so it costs no allocation of its own.
 */
export const DIRECT_MAX_BYTES = Buffer.poolSize / 2 - 5;

/**
 * Writes `data` as one unmasked binary WebSocket frame (FIN set) straight to the socket, as a
 * single buffer: `ws` would write its 2-byte header and the payload as two chunks (a cork, a
 * `writev` and an uncork per frame), which is most of what an idle server spends per probe.
 * Only for a lone frame that `ws` would itself write at once: the socket is open and not
 * corked, its sender idle (no compression, nothing queued), and the payload small; returns
 * false otherwise, and the caller sends through `ws`.
 */
export function writeFrame(ws: WebSocket, data: Uint8Array): boolean {
  const socket = ws as unknown as WsInternals;
  const stream = socket._socket;
  const sender = socket._sender;
  const length = data.length;
  if (
    length > DIRECT_MAX_BYTES ||
    socket.readyState !== OPEN ||
    !stream ||
    !sender ||
    // Corked: a burst of one event-loop turn, which ws's writes under the cork make one writev
    // (writing each frame of a burst as its own buffer measured half the echo throughput).
    stream.writableCorked > 0 ||
    sender._state !== SENDER_IDLE ||
    sender._deflating === true ||
    (sender._queue?.length ?? 0) > 0
  ) {
    return false;
  }
  const header = length < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x82;
  if (header === 2) {
    frame[1] = length;
  } else {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  }
  frame.set(data, header);
  stream.write(frame);
  return true;
}
