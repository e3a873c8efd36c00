import { describe, expect, it } from 'vitest';
import {
  decode,
  decodeFromClient,
  decodeFromServer,
  encodeHello,
  encodeMessage,
  encodePayload,
  type WireData,
} from './codec.js';
import { ProtocolError } from './errors.js';
import { FrameType } from './frames.js';
import { ProbeError } from './probe-error.js';

const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replaceAll(' ', ''), 'hex'));
/** [5, 1, <value>]: a MESSAGE from either side carrying `value` as its data. */
const messageWith = (value: string) => fromHex(`93 05 01 ${value}`);

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('decoding refuses every MessagePack extension type', () => {
  // ext 32 holding a 1 MiB BigInt: msgpackr would build it, and String() of it takes seconds.
  const hugeBigInt = new Uint8Array([
    ...fromHex('93 05 01 c9 00100000 42'),
    ...new Uint8Array(1 << 20).fill(0x7f),
  ]);
  const cases: [string, WireData, string][] = [
    ['a timestamp 32 (Date)', messageWith('d6 ff 00000000'), 'timestamp'],
    ['a timestamp 64 (Date)', messageWith('d7 ff 0000000000000000'), 'timestamp'],
    ['a timestamp 96 (Date)', messageWith('c7 0c ff 000000000000000000000000'), 'timestamp'],
    ['a BigInt (0x42)', messageWith('d4 42 05'), 'extension type 66'],
    ['a 1 MiB BigInt (0x42)', hugeBigInt, 'extension type 66'],
    ['a RegExp (0x78)', messageWith('d4 78 00 92 a5 28612b292b a0'), 'extension type 120'],
    ['an Error (0x65)', messageWith('d4 65 00 93 a9 4576616c4572726f72 a1 78 c0'), 'type 101'],
    [
      'an Error naming a constructor',
      messageWith('d4 65 00 93 ab 636f6e7374727563746f72 a0 c0'),
      'type 101',
    ],
    ['a Set (0x73)', messageWith('d4 73 00 91 01'), 'extension type 115'],
    ['a typed array (0x74)', messageWith('d5 74 01 00'), 'extension type 116'],
    ['a record definition (0x72)', messageWith('d4 72 40 91 a1 61 01'), 'extension type 114'],
    ['a string bundle (0x62)', messageWith('c7 05 62 00000009 00'), 'extension type 98'],
    ['a structured-clone id (0x69)', messageWith('d6 69 00000001 90'), 'extension type 105'],
    ['a structured-clone pointer (0x70)', messageWith('d4 70 00'), 'extension type 112'],
    ['undefined (0x00)', messageWith('d4 00 00'), 'extension type 0'],
    ['an application extension', messageWith('d8 01 00000000000000000000000000000000'), 'type 1'],
    ['a negative extension type', messageWith('c8 0001 80 00'), 'extension type -128'],
    ['one deep inside the data', messageWith('81 a1 61 92 c0 91 81 a1 62 d4 42 05'), 'type 66'],
    ['one in HELLO auth', fromHex('94 01 01 d6 ff 00000000 c0'), 'timestamp'],
    ['one as the frame type', fromHex('92 d4 42 05 01'), 'extension type 66'],
  ];

  it.each(cases)('%s', (_name, input, message) => {
    const started = performance.now();
    const error = thrownBy(() => decode(input));
    expect(performance.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject({ code: 'unsupported-type', closeCode: 1003 });
    expect((error as Error).message).toContain(message);
    expect(Buffer.byteLength((error as Error).message)).toBeLessThanOrEqual(123);
  });

  it('both directions refuse them: a server from a client, a client from a server', () => {
    const date = messageWith('d6 ff 00000000');
    for (const decodeSide of [decodeFromClient, decodeFromServer]) {
      expect(thrownBy(() => decodeSide(date))).toMatchObject({ code: 'unsupported-type' });
    }
  });

  it('refuses 0xc1, the byte MessagePack never uses, as malformed', () => {
    const error = thrownBy(() => decode(messageWith('c1')));
    expect(error).toMatchObject({ code: 'malformed', closeCode: 1007 });
  });

  it('does not mistake extension markers inside strings and binary for extension values', () => {
    // 'Ôû' is c3 94 c3 bb in UTF-8; the bin holds d4 42 05 and c9 bytes.
    expect(decode(messageWith('82 a1 73 a4 c394c3bb a1 62 c4 04 d44205c9'))).toStrictEqual({
      type: FrameType.MESSAGE,
      seq: 1,
      data: { s: 'Ôû', b: new Uint8Array([0xd4, 0x42, 0x05, 0xc9]) },
    });
  });

  it('still reads int64 and uint64 as numbers', () => {
    expect(decode(messageWith('92 d3 ffffffffffffffff cf 0000000100000000'))).toMatchObject({
      data: [-1, 2 ** 32],
    });
  });
});

describe('encoding writes only plain data', () => {
  const encoders: [string, (data: unknown) => unknown][] = [
    ['encodeMessage', (data) => encodeMessage(1, data)],
    ['encodePayload', (data) => encodePayload(data)],
    ['encodeHello (auth)', (data) => encodeHello(1, data, null)],
  ];

  for (const [name, encode] of encoders) {
    it(`${name} refuses a Date with ProbeError 'unencodable'`, () => {
      for (const data of [new Date(0), { at: [new Date()] }]) {
        const error = thrownBy(() => encode(data));
        expect(error).toBeInstanceOf(ProbeError);
        expect(error).toMatchObject({ code: 'unencodable' });
        expect((error as Error).message).toContain(
          'a Date (MessagePack timestamp); send dates as numbers or ISO strings',
        );
      }
    });
  }

  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const plainForms: [string, unknown, unknown][] = [
    [
      'a Map, as a map',
      new Map<unknown, unknown>([
        ['a', 1],
        [2, 'b'],
      ]),
      { a: 1, 2: 'b' },
    ],
    ['a Set, as an array', new Set([1, 'two']), [1, 'two']],
    ['a bigint within 64 bits, as an integer', 2n ** 40n, 2 ** 40],
    ['a negative bigint', -5n, -5],
    ['an Int16Array, as its bytes', new Int16Array([1]), new Uint8Array([1, 0])],
    ['an ArrayBuffer, as bytes', new Uint8Array([7, 8]).buffer, new Uint8Array([7, 8])],
    ['a class instance, as a map of its fields', new Point(1, 2), { x: 1, y: 2 }],
    ['undefined, as nil', undefined, null],
  ];
  it.each(plainForms)('writes %s', (_name, data, expected) => {
    const frame = decode(encodeMessage(1, data));
    expect(frame).toMatchObject({ type: FrameType.MESSAGE });
    const decoded = (frame as { data: unknown }).data;
    if (decoded instanceof Uint8Array) expect(new Uint8Array(decoded)).toStrictEqual(expected);
    else expect(decoded).toStrictEqual(expected);
  });
});
