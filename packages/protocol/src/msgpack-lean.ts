import { ProtocolError } from './errors.js';
import { decodeUtf8, encodeUtf8Into } from './utf8.js';

// The MessagePack codec of browser and React Native builds: only what Probe's data model needs
// (PROTOCOL.md section 2), a fraction of msgpackr's size. It writes exactly the bytes msgpackr
// writes with the options of msgpack.ts and reads bytes exactly as msgpackr reads them, errors
// included; msgpack-lean.test.ts compares the two on generated values and bytes, and the whole
// protocol suite runs against it too (vitest project `protocol-lean`). See docs/browser-codec.md.
// Both export `pack` and `unpack` with the same contract.

// ---------------------------------------------------------------------------------------------
// Encoding. Each choice mirrors msgpackr's pack() with useRecords false, structuredClone false,
// encodeUndefinedAsNil and no useFloat32, moreTypes, variableMapSize or bigint options.

let out: Uint8Array;
let view: DataView;
let at: number;

// Runtimes without TextEncoder / TextDecoder (older React Native engines) use utf8.ts.
const encoder =
  typeof TextEncoder === 'function' && 'encodeInto' in TextEncoder.prototype
    ? new TextEncoder()
    : null;
const dateToJSON = Date.prototype.toJSON;
const TypedArray = Object.getPrototypeOf(Uint8Array.prototype).constructor;
/** The classes msgpackr hands to its built-in extensions, in the order it tries them. */
const SPECIAL = [Date, Set, Error, RegExp, ArrayBuffer, TypedArray, DataView];

/** Makes room for `bytes` more bytes. */
function room(bytes: number): void {
  if (at + bytes > out.length) {
    const grown = new Uint8Array(Math.max(out.length * 2, at + bytes));
    grown.set(out);
    out = grown;
    view = new DataView(grown.buffer);
  }
}

function byte(value: number): void {
  room(1);
  out[at++] = value;
}

/** A marker byte, then `value` as an unsigned big-endian integer of `width` bytes (1, 2 or 4). */
function head(marker: number, value: number, width: number): void {
  room(5);
  out[at++] = marker;
  if (width === 1) out[at] = value;
  else if (width === 2) view.setUint16(at, value);
  else view.setUint32(at, value);
  at += width;
}

/** The header of an array (0x90) or map (0x80) of `size` entries, as small as it fits. */
function sizeHead(size: number, fix: number): void {
  // array 16/32 are 0xdc/0xdd, map 16/32 are 0xde/0xdf
  const wide = fix === 0x90 ? 0xdc : 0xde;
  if (size < 0x10) byte(fix | size);
  else if (size < 0x10000) head(wide, size, 2);
  else head(wide + 1, size, 4);
}

function writeNumber(value: number): void {
  room(9);
  if (value >>> 0 === value) {
    if (value < 0x80) out[at++] = value;
    else if (value < 0x100) head(0xcc, value, 1);
    else if (value < 0x10000) head(0xcd, value, 2);
    else head(0xce, value, 4);
  } else if (value >> 0 === value) {
    if (value >= -0x20) out[at++] = value & 0xff;
    else if (value >= -0x80) head(0xd0, value & 0xff, 1);
    else if (value >= -0x8000) head(0xd1, value & 0xffff, 2);
    else head(0xd2, value >>> 0, 4);
  } else {
    // msgpackr writes every other number, integers from 2^32 on included, as float64.
    out[at++] = 0xcb;
    view.setFloat64(at, value);
    at += 8;
  }
}

function writeString(value: string): void {
  const length = value.length;
  // The header for the fewest bytes these UTF-16 units can take; moved below if they take more.
  const guess = length < 0x20 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
  room(length * 3 + 5);
  // Lone surrogates become U+FFFD, as msgpackr writes them too.
  const target = out.subarray(at + guess);
  const bytes = encoder ? encoder.encodeInto(value, target).written : encodeUtf8Into(value, target);
  const size = bytes < 0x20 ? 1 : bytes < 0x100 ? 2 : bytes < 0x10000 ? 3 : 5;
  if (size > guess) out.copyWithin(at + size, at + guess, at + guess + bytes);
  if (size === 1) out[at++] = 0xa0 | bytes;
  else head(size === 2 ? 0xd9 : size === 3 ? 0xda : 0xdb, bytes, size - 1);
  at += bytes;
}

function writeBytes(value: ArrayBuffer | ArrayBufferView): void {
  const bytes = ArrayBuffer.isView(value)
    ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    : new Uint8Array(value);
  const length = bytes.length;
  if (length < 0x100) head(0xc4, length, 1);
  else if (length < 0x10000) head(0xc5, length, 2);
  else head(0xc6, length, 4);
  room(length);
  out.set(bytes, at);
  at += length;
}

function writeArray(value: ArrayLike<unknown>): void {
  const length = value.length;
  sizeHead(length, 0x90);
  for (let i = 0; i < length; i++) write(value[i]);
}

/** An object's own enumerable properties, always as a map 16 (as msgpackr writes objects). */
function writeObject(object: Record<string, unknown>): void {
  room(3);
  out[at] = 0xde;
  const sizeAt = at + 1;
  at += 3;
  let size = 0;
  for (const key in object) {
    // The object's own hasOwnProperty, as msgpackr calls it (an object may define its own).
    // biome-ignore lint/suspicious/noPrototypeBuiltins: the same call as msgpackr's
    if (typeof object.hasOwnProperty !== 'function' || object.hasOwnProperty(key)) {
      write(key);
      write(object[key]);
      size++;
    }
  }
  if (size > 0xffff) {
    throw new Error(
      'Object is too large to serialize with fast 16-bit map size,' +
        ' use the "variableMapSize" option to serialize this object',
    );
  }
  view.setUint16(sizeAt, size);
}

// biome-ignore lint/suspicious/noExplicitAny: any value an application sends
function write(value: any): void {
  const type = typeof value;
  if (type === 'string') writeString(value);
  else if (type === 'number') writeNumber(value);
  else if (type === 'boolean') byte(value ? 0xc3 : 0xc2);
  else if (type === 'undefined' || value === null) byte(0xc0);
  else if (type === 'bigint') {
    room(9);
    if (value < 0x8000000000000000 && value >= -0x8000000000000000) {
      out[at++] = 0xd3;
      view.setBigInt64(at, value);
    } else if (value < 0x10000000000000000 && value > 0) {
      out[at++] = 0xcf;
      view.setBigUint64(at, value);
    } else {
      throw new RangeError(
        `${value} was too large to fit in MessagePack 64-bit integer format, use` +
          ' useBigIntExtension, or set largeBigIntToFloat to convert to float-64, or set' +
          ' largeBigIntToString to convert to string',
      );
    }
    at += 8;
  } else if (type === 'object' || type === 'function') {
    const kind = value.constructor;
    if (kind === Object) writeObject(value);
    else if (kind === Array) writeArray(value);
    else if (kind === Map) {
      sizeHead(value.size, 0x80);
      for (const [key, entry] of value) {
        write(key);
        write(entry);
      }
    } else writeOther(value, type);
  } else throw new Error(`Unknown type: ${type}`);
}

// biome-ignore lint/suspicious/noExplicitAny: any value an application sends
function writeOther(value: any, type: string): void {
  for (const special of SPECIAL) {
    if (value instanceof special) {
      // A subclass with a toJSON of its own is written through it (below), as msgpackr does;
      // dates keep Date's toJSON and byte views always go as bytes.
      if (
        value.constructor !== special &&
        value.toJSON !== undefined &&
        value.toJSON !== dateToJSON &&
        !ArrayBuffer.isView(value)
      ) {
        break;
      }
      if (special === Date) {
        // msgpackr writes a timestamp extension, which the caller refuses (findExtension in
        // codec.ts, with the same message). This is its shortest form: the invalid date.
        room(3);
        out.set([0xd4, 0xff, 0xff], at);
        at += 3;
      } else if (special === Set) writeArray(Array.from(value));
      else if (special === Error) {
        const fields = [value.name, value.message, value.cause];
        if (typeof AggregateError === 'function' && value instanceof AggregateError) {
          fields.push(value.errors);
        }
        writeArray(fields);
      } else if (special === RegExp) writeArray([value.source, value.flags]);
      else writeBytes(value);
      return;
    }
  }
  if (Array.isArray(value)) writeArray(value);
  else {
    const json = value.toJSON ? value.toJSON() : value;
    if (json !== value) write(json);
    // A function goes as nil (msgpackr packs what its writeFunction option returns, unset here).
    else if (type === 'function') byte(0xc0);
    else writeObject(value);
  }
}

/**
 * Packs one value into bytes of their own (an exact-size buffer).
 * @throws {Error} msgpackr's message, when MessagePack cannot hold the value.
 */
export function pack(value: unknown): Uint8Array {
  // toJSON is application code, which may pack another value before this one is done.
  const outer = [out, view, at] as const;
  out = new Uint8Array(256);
  view = new DataView(out.buffer);
  at = 0;
  try {
    write(value);
    return out.slice(0, at);
  } finally {
    [out, view, at] = outer;
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding, as msgpackr's unpack() with the options of msgpack.ts: maps as plain objects.

let src: Uint8Array;
let data: DataView;
let pos: number;
/** Array elements the rest of the input can still hold (each takes at least one byte). */
let budget: number;

// msgpackr decodes strings of up to 64 bytes in JavaScript (keeping a byte order mark) and
// longer ones with a TextDecoder (which drops a leading one); both replace invalid UTF-8 as the
// Encoding standard says.
const decoder = typeof TextDecoder === 'function' ? new TextDecoder() : null;
const shortDecoder = decoder && new TextDecoder('utf-8', { ignoreBOM: true });

const END = 'Unexpected end of MessagePack data';

/** Moves past `bytes` bytes and returns where they start. */
function take(bytes: number): number {
  const start = pos;
  pos += bytes;
  if (pos > src.length) throw new Error(END);
  return start;
}

/** An unsigned big-endian integer of `width` bytes (1, 2 or 4). */
function uint(width: number): number {
  const start = take(width);
  return width === 1
    ? (src[start] as number)
    : width === 2
      ? data.getUint16(start)
      : data.getUint32(start);
}

function readString(length: number): string {
  const start = take(length);
  const bytes = src.subarray(start, pos);
  const short = length <= 64;
  if (decoder === null) return decodeUtf8(bytes, short);
  return (short ? (shortDecoder as TextDecoder) : decoder).decode(bytes);
}

function readArray(length: number): unknown[] {
  budget -= length;
  if (length > src.length - pos || budget < 0) throw new Error(END);
  const array = new Array(length);
  for (let i = 0; i < length; i++) array[i] = read();
  return array;
}

function readMap(size: number): Record<string, unknown> {
  if (size > (src.length - pos) / 2) throw new Error(END);
  const object: Record<string, unknown> = {};
  for (let i = 0; i < size; i++) {
    let key = read();
    // msgpackr turns numbers, booleans and nil into their string; other keys end the decode.
    if (typeof key !== 'string') {
      if (key !== null && typeof key !== 'number' && typeof key !== 'boolean') {
        throw new Error(`Invalid property type for record: ${typeof key}`);
      }
      key = String(key);
    }
    // The renamed key keeps Object.prototype out of reach, as msgpackr does.
    object[key === '__proto__' ? '__proto_' : (key as string)] = read();
  }
  return object;
}

function read(): unknown {
  const token = src[take(1)] as number;
  if (token < 0x80) return token;
  if (token < 0x90) return readMap(token & 0x0f);
  if (token < 0xa0) return readArray(token & 0x0f);
  if (token < 0xc0) return readString(token & 0x1f);
  if (token >= 0xe0) return token - 0x100;
  switch (token) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
    case 0xc5:
    case 0xc6: {
      // bin 8/16/32: a view into the frame, as msgpackr returns it
      const start = take(uint(token === 0xc4 ? 1 : token === 0xc5 ? 2 : 4));
      return src.subarray(start, pos);
    }
    case 0xca:
      return data.getFloat32(take(4));
    case 0xcb:
      return data.getFloat64(take(8));
    case 0xcc:
      return uint(1);
    case 0xcd:
      return uint(2);
    case 0xce:
      return uint(4);
    case 0xcf:
    case 0xd3: {
      // 64-bit integers as numbers (msgpackr's int64AsType 'number', the same arithmetic)
      const start = take(8);
      const high = token === 0xcf ? data.getUint32(start) : data.getInt32(start);
      return high * 0x100000000 + data.getUint32(start + 4);
    }
    case 0xd0:
      return data.getInt8(take(1));
    case 0xd1:
      return data.getInt16(take(2));
    case 0xd2:
      return data.getInt32(take(4));
    case 0xd9:
      return readString(uint(1));
    case 0xda:
      return readString(uint(2));
    case 0xdb:
      return readString(uint(4));
    case 0xdc:
      return readArray(uint(2));
    case 0xdd:
      return readArray(uint(4));
    case 0xde:
      return readMap(uint(2));
    case 0xdf:
      return readMap(uint(4));
  }
  // 0xc1 and the extension types, which the caller refuses before decoding (findExtension).
  throw new Error(`Unsupported MessagePack token ${token}`);
}

/**
 * Checks 4 and 5 of PROTOCOL.md section 2: `bytes` hold one complete MessagePack value and
 * nothing after it. Extension types were refused before (check 3a).
 * @throws {ProtocolError} `malformed` or `trailing-bytes`, and nothing else.
 */
export function unpack(bytes: Uint8Array): unknown {
  src = bytes;
  data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  pos = 0;
  budget = bytes.length;
  let value: unknown;
  try {
    value = read();
  } catch (cause) {
    // Truncated input, a key that is not a string, or nesting deeper than the stack.
    throw new ProtocolError('malformed', 'frame is not valid MessagePack', { cause });
  }
  if (pos < bytes.length) {
    throw new ProtocolError('trailing-bytes', 'frame has bytes after its MessagePack value');
  }
  return value;
}
