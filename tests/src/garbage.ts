// Seeded hostile payloads for fuzzing a server over real WebSocket connections. Each payload is
// one WebSocket message (the framing is valid, the content is not), so the server's own codec
// and validation are what refuse it. The structured kinds are invalid by construction; the two
// random kinds could only form a frame the server accepts (say `[MESSAGE, 1, x]`) with odds far
// below one in a million per payload, and the seed in the failure message replays it.

export type GarbageKind =
  /** Bytes drawn at random: almost never even a MessagePack array. */
  | 'random-bytes'
  /** A MessagePack fixarray marker, then random bytes: exercises the decoder itself. */
  | 'array-prefix'
  /** Well-formed MessagePack: a known frame type with the wrong number of elements. */
  | 'wrong-arity'
  /** Well-formed MessagePack: an array whose first element is no frame type. */
  | 'unknown-type'
  /** Well-formed MessagePack: a known frame type whose first field has the wrong type. */
  | 'bad-field'
  /** A well-formed probe or welcome: frames only a server may send. */
  | 'server-frame'
  /** Random text in a text message. */
  | 'text'
  /** Random bytes larger than the server's maxPayloadBytes. */
  | 'oversize';

export const GARBAGE_KINDS: readonly GarbageKind[] = [
  'random-bytes',
  'array-prefix',
  'wrong-arity',
  'unknown-type',
  'bad-field',
  'server-frame',
  'text',
  'oversize',
];

/**
 * Elements each frame type may have, type included (PROBE_ANSWER 2 or 3; MESSAGE 3 to 6: a named
 * event, a request and a reply add trailing fields).
 */
const ARITY: Record<number, readonly number[]> = {
  1: [4],
  2: [10],
  3: [2],
  4: [2, 3],
  5: [3, 4, 5, 6],
  6: [2],
  7: [3],
};

type Random = () => number;

function int(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function bytes(random: Random, length: number): number[] {
  return Array.from({ length }, () => int(random, 0, 255));
}

function str(text: string): number[] {
  const utf8 = [...Buffer.from(text, 'utf8')];
  return utf8.length < 32 ? [0xa0 | utf8.length, ...utf8] : [0xd9, utf8.length, ...utf8];
}

function float64(value: number): number[] {
  const buffer = Buffer.alloc(8);
  buffer.writeDoubleBE(value);
  return [0xcb, ...buffer];
}

function uint32(value: number): number[] {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return [0xce, ...buffer];
}

/** Hand-encoded MessagePack values, including keys that probe for prototype pollution. */
function value(random: Random, depth = 0): number[] {
  const pick = int(random, 0, depth > 1 ? 8 : 10);
  switch (pick) {
    case 0:
      return [int(random, 0, 0x7f)];
    case 1:
      return [int(random, 0xe0, 0xff)];
    case 2:
      return [0xc0];
    case 3:
      return [random() < 0.5 ? 0xc2 : 0xc3];
    case 4:
      return uint32(int(random, 0, 0xffff_ffff));
    case 5:
      return float64((random() - 0.5) * 1e12);
    case 6:
      return str(
        ['', '__proto__', 'constructor', 'x'.repeat(int(random, 1, 140))][int(random, 0, 3)]!,
      );
    case 7: {
      const length = int(random, 0, 64);
      return [0xc4, length, ...bytes(random, length)];
    }
    case 8:
      return [0xd4, int(random, 0, 255), int(random, 0, 255)]; // fixext 1, any extension type
    case 9: {
      const length = int(random, 0, 4);
      const items = Array.from({ length }, () => value(random, depth + 1));
      return [0x90 | length, ...items.flat()];
    }
    default: {
      const keys = ['__proto__', 'constructor', 'prototype', 'toString'].slice(
        0,
        int(random, 0, 4),
      );
      return [0x80 | keys.length, ...keys.flatMap((k) => [...str(k), ...value(random, depth + 1)])];
    }
  }
}

/** A value no frame accepts as its first field (every first field is an unsigned integer). */
function wrongFirstField(random: Random): number[] {
  switch (int(random, 0, 6)) {
    case 0:
      return [0xc0];
    case 1:
      return [0xc3];
    case 2:
      return [int(random, 0xe0, 0xff)];
    case 3:
      return float64(int(random, 0, 1000) + 0.5);
    case 4:
      return str('1');
    case 5:
      return [0x90];
    default:
      return [0x80];
  }
}

function array(elements: number[][]): number[] {
  return [0x90 | elements.length, ...elements.flat()];
}

function frameType(random: Random): number {
  return int(random, 1, 7);
}

/** One payload of `kind`. */
export function garbage(
  kind: GarbageKind,
  random: Random,
  maxPayloadBytes: number,
): Uint8Array | string {
  switch (kind) {
    case 'random-bytes':
      return new Uint8Array(bytes(random, int(random, 4, 1024)));
    case 'array-prefix':
      return new Uint8Array([int(random, 0x91, 0x9f), ...bytes(random, int(random, 8, 256))]);
    case 'wrong-arity': {
      const type = frameType(random);
      const allowed = ARITY[type]!;
      let length = int(random, 1, 15);
      while (allowed.includes(length)) length = (length % 15) + 1;
      const rest = Array.from({ length: length - 1 }, () => value(random));
      return new Uint8Array(array([[type], ...rest]));
    }
    case 'unknown-type': {
      const type = [[0x00], [0x08], [0xcc, 0xff], [0xff], str('hello'), [0xc0]][int(random, 0, 5)]!;
      const rest = Array.from({ length: int(random, 0, 5) }, () => value(random));
      return new Uint8Array(array([type, ...rest]));
    }
    case 'bad-field': {
      const type = frameType(random);
      const length = ARITY[type]![0]!;
      const rest = Array.from({ length: length - 2 }, () => value(random));
      return new Uint8Array(array([[type], wrongFirstField(random), ...rest]));
    }
    case 'server-frame':
      return new Uint8Array(
        random() < 0.5
          ? array([[3], uint32(int(random, 0, 0xffff_ffff))])
          : array([
              [2],
              [1],
              str('id'),
              str('token'),
              [100],
              [100],
              uint32(65536),
              [0xc3],
              [0],
              [0],
            ]),
      );
    case 'text':
      return Array.from({ length: int(random, 1, 200) }, () =>
        String.fromCharCode(int(random, 0x20, 0x7e)),
      ).join('');
    case 'oversize':
      return new Uint8Array(bytes(random, maxPayloadBytes + int(random, 1, 4096)));
  }
}
