import { Packr, RESET_BUFFER_MODE } from 'msgpackr';
import { ProtocolError } from './errors.js';

// The MessagePack codec of Node builds (servers, Node clients): msgpackr. Browser and React
// Native builds use msgpack-lean.ts instead, which writes the same bytes and reads them the same
// way (docs/browser-codec.md). Both export `pack` and `unpack` with the same contract.

// Plain MessagePack only: no records/structures, no structured-clone references and undefined as
// nil, so any MessagePack decoder in any language can read every frame we write. One instance
// does both (a Packr is an Unpackr); without records, maps decode as plain objects. Extension
// types are refused by scanning the bytes (findExtension in codec.ts): msgpackr's extensions are
// registered for the whole process, so turning them off on this instance is not possible.
const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
});

/**
 * msgpackr packs into one scratch buffer it shares and grows (to several times the largest value
 * packed so far) and returns a view into it. A frame kept for replay must not pin that buffer,
 * so each result is copied to its own exact-size buffer, and a scratch grown past this size by
 * one large value is handed back rather than kept for the life of the process.
 */
const SCRATCH_KEEP_BYTES = 256 * 1024;
const SCRATCH_BYTES = 8 * 1024;

/**
 * Packs one value into bytes of their own (an exact-size buffer).
 * @throws {Error} msgpackr's, when MessagePack cannot hold the value.
 */
export function pack(value: unknown): Uint8Array {
  // RESET_BUFFER_MODE: the next pack may write over these bytes, which are copied out first.
  const packed = packr.pack(value, RESET_BUFFER_MODE);
  const out = new Uint8Array(packed);
  if (packed.buffer.byteLength > SCRATCH_KEEP_BYTES) packr.useBuffer(newScratch());
  return out;
}

// msgpackr writes strings with Buffer#utf8Write when it runs on Node, so the scratch must be a
// Buffer there, as the one msgpackr allocates itself would be.
function newScratch(): Uint8Array {
  return typeof Buffer === 'function'
    ? Buffer.allocUnsafeSlow(SCRATCH_BYTES)
    : new Uint8Array(SCRATCH_BYTES);
}

/**
 * Checks 4 and 5 of PROTOCOL.md section 2: `bytes` hold one complete MessagePack value and
 * nothing after it. Extension types were refused before (check 3a).
 * @throws {ProtocolError} `malformed` or `trailing-bytes`, and nothing else.
 */
export function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    const trailing = cause instanceof Error && cause.message.includes('end of buffer not reached');
    throw new ProtocolError(
      trailing ? 'trailing-bytes' : 'malformed',
      trailing ? 'frame has bytes after its MessagePack value' : 'frame is not valid MessagePack',
      { cause },
    );
  }
}
