import { Writable } from 'node:stream';
import { probeAnswerId } from '@probe/protocol';
import type { WebSocket } from 'ws';

/** The parts of `ws` 8's frame parser (a Writable) this module reads. */
interface Receiver extends Writable {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  _opcode: number;
  _errored: boolean;
  [ANSWERS]?: AnswerSink;
}

/** Where answers go: the connection, which reads the bytes at once and keeps none of them. */
export interface AnswerSink {
  receive(bytes: Uint8Array): void;
}

const ANSWERS = Symbol('probe.answers');
/** The parser waits for the first bytes of a frame. */
const GET_INFO = 0;
const CLOSE = 0x08;

/**
 * One scratch buffer for the unmasked payload, and a view of it for each length a probe answer
 * can have (3, 4, 5 or 7 bytes): reading an answer allocates nothing. Whoever gets a view reads
 * it at once and keeps nothing of it.
 */
const scratch = new Uint8Array(8);
const views: (Uint8Array | undefined)[] = [];
for (const length of [3, 4, 5, 7]) views[length] = scratch.subarray(0, length);

const write = Writable.prototype.write;

/**
 * A client's probe answer usually arrives alone in one read: a masked, unfragmented binary
 * frame of 3 to 7 bytes. `ws` runs each through its Writable parser, fragment list and two
 * 'message' events, which costs several times what its ping/pong path does. This takes such a
 * chunk off `ws`'s hands when its parser is idle between frames, hands the answer to the
 * sink and tells `ws` nothing (it would have parsed the same frame to the same end).
 * Every other chunk, or any doubt, goes to `ws` as before.
 */
function receiverWrite(this: Receiver, chunk: Buffer, encoding?: unknown, cb?: unknown): boolean {
  const length = chunk.length - 6;
  const view = views[length];
  if (
    view !== undefined &&
    chunk[0] === 0x82 &&
    chunk[1] === (0x80 | length) &&
    this._state === GET_INFO &&
    this._bufferedBytes === 0 &&
    this._fragmented === 0 &&
    this._opcode !== CLOSE &&
    !this._errored &&
    this.writableLength === 0 &&
    !this.writableEnded &&
    !this.destroyed
  ) {
    for (let i = 0; i < length; i++) view[i] = (chunk[6 + i] ?? 0) ^ (chunk[2 + (i & 3)] ?? 0);
    const sink = this[ANSWERS];
    if (sink !== undefined && probeAnswerId(view) >= 0) {
      sink.receive(view);
      return true;
    }
  }
  return (write as (this: Receiver, ...args: unknown[]) => boolean).call(this, chunk, encoding, cb);
}

/**
 * Routes `ws`'s probe answers that arrive as a whole frame straight to `sink` (see
 * {@link receiverWrite}). Needs `ws` 8's internals; leaves the socket alone if they differ.
 */
export function routeProbeAnswers(ws: WebSocket, sink: AnswerSink): void {
  const receiver = (ws as unknown as { _receiver?: Receiver })._receiver;
  if (
    !(receiver instanceof Writable) ||
    typeof receiver._state !== 'number' ||
    typeof receiver._bufferedBytes !== 'number' ||
    typeof receiver._fragmented !== 'number'
  ) {
    return;
  }
  receiver[ANSWERS] = sink;
  receiver.write = receiverWrite as Writable['write'];
}
