import { CloseCode, clampReason, type WireData } from '@probe/protocol';
import type { WebSocketConstructor, WebSocketLike } from './options.js';

/** What one socket reports, until it is released. */
export interface SocketEvents {
  open(): void;
  data(data: WireData): void;
  close(code: number, reason: string): void;
}

/** What `ws` keeps in `_socket`: Node's net.Socket. */
type NodeSocket = { writableCorked: number; cork(): void; uncork(): void };

/**
 * Opens a WebSocket and routes its events to `on` until {@link releaseSocket}.
 * @throws whatever the WebSocket constructor throws (an invalid URL).
 */
export function openSocket(
  WebSocket: WebSocketConstructor,
  url: string,
  on: SocketEvents,
): WebSocketLike {
  const socket = new WebSocket(url);
  try {
    // `ws` in Node can hand over its buffers as they are. Browsers ignore the value; React
    // Native throws on it. Both take 'arraybuffer'.
    socket.binaryType = 'nodebuffer';
  } catch {}
  if (socket.binaryType !== 'nodebuffer') socket.binaryType = 'arraybuffer';
  // An implementation that ignores binaryType hands over Blobs, which are read asynchronously:
  // each waits for the one before, so order holds (binaryType is per socket, so every binary
  // message is then a Blob).
  let blobs = Promise.resolve();
  socket.onopen = () => on.open();
  socket.onmessage = ({ data }) => {
    const blob = data as { arrayBuffer?: () => Promise<ArrayBuffer> };
    if (!blob.arrayBuffer) return on.data(data as WireData);
    blobs = blobs.then(blob.arrayBuffer.bind(blob)).then(
      (bytes) => void (socket.onmessage && on.data(bytes)),
      // A lost message heals like any lost connection: the resume replays it.
      () => void (socket.onmessage && on.close(CloseCode.ABNORMAL, 'a Blob could not be read')),
    );
  };
  socket.onclose = ({ code, reason }) => on.close(code, reason);
  // A close event always follows an error; it carries what is needed.
  socket.onerror = () => {};
  return socket;
}

/**
 * Sends one frame. In Node the frames of one turn of the event loop go out as one socket
 * write (browsers batch on their own); a syscall per frame is what costs most at high rates.
 */
export function writeFrame(socket: WebSocketLike, frame: Uint8Array): void {
  const tcp = (socket as { _socket?: NodeSocket | null })._socket;
  if (tcp && !tcp.writableCorked) {
    tcp.cork();
    queueMicrotask(() => tcp.uncork());
  }
  // Frames are encoded into ordinary (not shared) ArrayBuffers.
  socket.send(frame as Uint8Array<ArrayBuffer>);
}

/**
 * Detaches `socket`, so none of its events reach the client any more, and closes it: with
 * `code`, or without `code` at once and without a close handshake, which would hang on a dead
 * path (`terminate()` in Node; browsers close in the background).
 */
export function releaseSocket(socket: WebSocketLike, code?: number, reason = ''): void {
  socket.onopen = socket.onmessage = socket.onclose = null;
  socket.onerror = () => {};
  try {
    if (code === undefined && socket.terminate) socket.terminate();
    else socket.close(code === undefined || code < 3000 ? 1000 : code, clampReason(reason));
  } catch {
    // Closing a socket that never opened may throw in some implementations; it is gone either way.
  }
}
