import { describe, expect, it } from 'vitest';
import {
  decode,
  decodeFromClient,
  decodeFromServer,
  decodeMessageData,
  encode,
  encodeAck,
  encodeMessage,
  encodeMessageWithPayload,
  encodePayload,
  encodeProbe,
  encodeProbeAnswer,
  type WireData,
} from './codec.js';
import { isProtocolError, ProtocolError, type ProtocolErrorCode } from './errors.js';
import { type Frame, FrameType, type MessageFrame, ReplyKind } from './frames.js';
import {
  MAX_EVENT_LENGTH,
  MAX_ID_LENGTH,
  MAX_PAYLOAD_RANGE,
  MAX_REASON_LENGTH,
  PROBE_MS_RANGE,
  RESERVED_EVENTS,
} from './validate.js';

const MAX_UINT32 = 0xffff_ffff;

/** What a browser WebSocket hands over: a plain Uint8Array (the encoder returns a Buffer in Node). */
const bytes = (...values: number[]) => new Uint8Array(values);
const plain = (data: Uint8Array) => new Uint8Array(data);
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');
const fromHex = (text: string) => plain(Buffer.from(text.replaceAll(' ', ''), 'hex'));
/** Bytes of an arbitrary MessagePack value, to build frames the encoder would never write. */
const raw = (value: unknown) => plain(encodePayload(value).subarray(1));

function decodeError(input: WireData, maxBytes?: number): ProtocolError {
  let thrown: unknown;
  try {
    decode(input, maxBytes);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  return thrown as ProtocolError;
}

const hello: Frame = { type: FrameType.HELLO, version: 1, auth: null, resume: null };
const welcome: Frame = {
  type: FrameType.WELCOME,
  version: 1,
  sessionId: 's1',
  token: 't0k',
  probeIntervalMs: 10_000,
  probeTimeoutMs: 5_000,
  maxPayloadBytes: 1_048_576,
  resumed: false,
  lastSeq: 0,
  sentSeq: 0,
};

describe('decode(encode(frame)) round-trips every frame type', () => {
  const id = 'i'.repeat(MAX_ID_LENGTH);
  const cases: [string, Frame][] = [
    ['hello, fresh session', hello],
    ['hello with auth', { ...hello, auth: { token: 'abc', scopes: ['a', 'b'] } }],
    ['hello with auth string', { ...hello, auth: 'bearer xyz' }],
    [
      'hello with resume',
      { ...hello, resume: { sessionId: 's1', token: 't0k', lastSeq: 42, sentSeq: 19 } },
    ],
    [
      'hello with resume, nothing received or sent yet',
      { ...hello, resume: { sessionId: 's1', token: 't0k', lastSeq: 0, sentSeq: 0 } },
    ],
    [
      'hello with auth and resume at the limits',
      {
        ...hello,
        version: 0xffff,
        auth: [1, 2, 3],
        resume: {
          sessionId: id,
          token: id,
          lastSeq: Number.MAX_SAFE_INTEGER,
          sentSeq: Number.MAX_SAFE_INTEGER,
        },
      },
    ],
    ['welcome, new session', welcome],
    ['welcome, resumed', { ...welcome, resumed: true, lastSeq: 17, sentSeq: 43, token: 'n3w' }],
    ['welcome, sentSeq 2^32 (float64)', { ...welcome, resumed: true, sentSeq: 2 ** 32 }],
    [
      'welcome at the limits',
      {
        ...welcome,
        version: 0,
        sessionId: id,
        token: id,
        probeIntervalMs: PROBE_MS_RANGE[1],
        probeTimeoutMs: PROBE_MS_RANGE[0],
        maxPayloadBytes: MAX_PAYLOAD_RANGE[1],
        lastSeq: Number.MAX_SAFE_INTEGER,
        sentSeq: Number.MAX_SAFE_INTEGER,
      },
    ],
    ['probe 0', { type: FrameType.PROBE, id: 0 }],
    ['probe 65535', { type: FrameType.PROBE, id: 65_535 }],
    ['probe 2^32-1', { type: FrameType.PROBE, id: MAX_UINT32 }],
    ['probe answer without ack', { type: FrameType.PROBE_ANSWER, id: 7, ack: null }],
    ['probe answer with ack 0', { type: FrameType.PROBE_ANSWER, id: 7, ack: 0 }],
    [
      'probe answer with a large ack',
      { type: FrameType.PROBE_ANSWER, id: MAX_UINT32, ack: Number.MAX_SAFE_INTEGER },
    ],
    ['message with null', { type: FrameType.MESSAGE, seq: 1, data: null }],
    ['message with a string', { type: FrameType.MESSAGE, seq: 2, data: 'hi' }],
    ['message with a number', { type: FrameType.MESSAGE, seq: 3, data: -1.5 }],
    [
      'message with an object',
      { type: FrameType.MESSAGE, seq: 300, data: { text: 'hi', n: [1, 2, { deep: true }] } },
    ],
    ['message with bytes', { type: FrameType.MESSAGE, seq: 65_536, data: bytes(0, 1, 2, 255) }],
    [
      'message with the largest seq',
      { type: FrameType.MESSAGE, seq: Number.MAX_SAFE_INTEGER, data: [] },
    ],
    ['named event', { type: FrameType.MESSAGE, seq: 1, data: { text: 'hi' }, event: 'chat' }],
    ['volatile named event', { type: FrameType.MESSAGE, seq: 0, data: true, event: 'typing' }],
    [
      'named event with the longest name',
      { type: FrameType.MESSAGE, seq: 1, data: null, event: 'é'.repeat(MAX_EVENT_LENGTH / 2) },
    ],
    ['unnamed request', { type: FrameType.MESSAGE, seq: 2, data: 'ping', event: null, call: 1 }],
    [
      'named request',
      { type: FrameType.MESSAGE, seq: 3, data: { id: 7 }, event: 'user:get', call: 2 },
    ],
    [
      'request with the largest call',
      { type: FrameType.MESSAGE, seq: 1, data: null, event: null, call: Number.MAX_SAFE_INTEGER },
    ],
    [
      'OK reply',
      { type: FrameType.MESSAGE, seq: 1, data: 'pong', event: null, call: 1, reply: ReplyKind.OK },
    ],
    [
      'ERROR reply',
      {
        type: FrameType.MESSAGE,
        seq: 4,
        data: { code: 'no-handler', message: 'no handler' },
        event: null,
        call: 2,
        reply: ReplyKind.ERROR,
      },
    ],
    ['ack 0', { type: FrameType.ACK, seq: 0 }],
    ['ack 2^32', { type: FrameType.ACK, seq: 2 ** 32 }],
    ['goodbye, no reason', { type: FrameType.GOODBYE, code: 1000, reason: '' }],
    [
      'goodbye, longest reason',
      { type: FrameType.GOODBYE, code: 4999, reason: 'r'.repeat(MAX_REASON_LENGTH) },
    ],
  ];

  it.each(cases)('%s', (_name, frame) => {
    const encoded = encode(frame);
    expect(decode(plain(encoded))).toStrictEqual(frame);
    // Also as an ArrayBuffer (browser binaryType 'arraybuffer') …
    expect(decode(plain(encoded).buffer)).toStrictEqual(frame);
    // … and re-encoding what was decoded gives the same bytes.
    expect(hex(encode(decode(plain(encoded))))).toBe(hex(encoded));
  });

  it('hello with auth undefined is sent as nil and read back as null', () => {
    const frame = { type: FrameType.HELLO, version: 1, auth: undefined, resume: null } as const;
    expect(decode(plain(encode(frame)))).toStrictEqual(hello);
  });

  it('the hot-path encoders write the same bytes as encode()', () => {
    expect(hex(encodeProbe(65_535))).toBe(hex(encode({ type: FrameType.PROBE, id: 65_535 })));
    expect(hex(encodeProbeAnswer(9, null))).toBe(
      hex(encode({ type: FrameType.PROBE_ANSWER, id: 9, ack: null })),
    );
    expect(hex(encodeProbeAnswer(9, 3))).toBe(
      hex(encode({ type: FrameType.PROBE_ANSWER, id: 9, ack: 3 })),
    );
    expect(hex(encodeAck(300))).toBe(hex(encode({ type: FrameType.ACK, seq: 300 })));
    expect(hex(encodeMessage(5, 'x'))).toBe(
      hex(encode({ type: FrameType.MESSAGE, seq: 5, data: 'x' })),
    );
  });

  it('decodes a frame that is a view into a larger buffer, ignoring bytes outside the view', () => {
    const frame = encodeAck(300);
    const pool = new Uint8Array(64).fill(0xc1);
    pool.set(frame, 10);
    expect(decode(pool.subarray(10, 10 + frame.length))).toStrictEqual({
      type: FrameType.ACK,
      seq: 300,
    });
  });

  it('accepts a frame of exactly maxBytes', () => {
    const frame = encodeMessage(1, 'x'.repeat(100));
    expect(decode(frame, frame.length)).toMatchObject({ type: FrameType.MESSAGE, seq: 1 });
  });

  it('decodeMessageData returns the data of a MESSAGE and undefined for other frames', () => {
    expect(decodeMessageData(encodeMessage(3, { a: [1] }))).toStrictEqual({ a: [1] });
    expect(decodeMessageData(encodeAck(3))).toBeUndefined();
  });
});

describe('decode refuses invalid input with a stable code and close code', () => {
  const id = 'i'.repeat(MAX_ID_LENGTH);
  const tooLongId = 'i'.repeat(MAX_ID_LENGTH + 1);
  const welcomeFields = [2, 1, 's1', 't0k', 10_000, 5_000, 1_048_576, false, 0, 0];
  const welcomeWith = (index: number, value: unknown) =>
    raw(welcomeFields.map((field, i) => (i === index ? value : field)));
  const bad = (code: ProtocolErrorCode, closeCode: number, cases: [string, WireData, string][]) =>
    cases.map(([name, input, message]) => [name, input, code, closeCode, message] as const);

  // [name, input, part of the message], grouped by the expected code and close code.
  const cases = [
    ...bad('text-frame', 1003, [
      ['a text frame', 'hello', 'text frames'],
      ['a text frame holding JSON', '[3,1]', 'binary'],
    ]),
    ...bad('malformed', 1007, [
      ['a truncated array', fromHex('92 05'), 'MessagePack'],
      ['a truncated string', fromHex('93 05 01 a5 68'), 'MessagePack'],
      ['a truncated uint16', fromHex('92 03 cd ff'), 'MessagePack'],
      ['a bin32 claiming 4 GiB', fromHex('93 05 01 c6 ffffffff'), 'MessagePack'],
      ['an array32 claiming 2^32-1 elements', fromHex('93 05 01 dd ffffffff 00'), 'MessagePack'],
    ]),
    ...bad('unsupported-type', 1003, [
      ['an unknown extension type', fromHex('93 05 01 d4 01 00'), 'extension type 1'],
      ['a BigInt as the frame type', fromHex('91 d4 42 05'), 'extension type 66'],
    ]),
    ...bad('trailing-bytes', 1007, [
      ['one byte after the frame', fromHex('92 03 05 00'), 'after'],
      ['a second frame after the frame', fromHex('92 03 05 92 03 06'), 'after'],
    ]),
    ...bad('invalid-frame', 1002, [
      ['no bytes at all', fromHex(''), 'non-empty MessagePack array'],
      ['an integer', fromHex('05'), 'non-empty MessagePack array'],
      ['a string', fromHex('a1 61'), 'non-empty MessagePack array'],
      ['nil', fromHex('c0'), 'non-empty MessagePack array'],
      ['a map', fromHex('81 a1 61 01'), 'non-empty MessagePack array'],
      ['an empty array', fromHex('90'), 'non-empty MessagePack array'],
      ['an array16 (frames are fixarrays)', fromHex('dc 0002 03 05'), 'array'],
    ]),
    ...bad('unknown-frame-type', 1002, [
      ['type 0', fromHex('91 00'), 'unknown frame type 0'],
      ['type 8', fromHex('92 08 01'), 'unknown frame type 8'],
      ['type -1', fromHex('91 ff'), 'unknown frame type -1'],
      ['type 1.5', raw([1.5]), 'unknown frame type 1.5'],
      ['a string type', raw(['probe', 1]), 'unknown frame type "probe"'],
      ['a nil type', fromHex('91 c0'), 'unknown frame type null'],
      ['an array type', fromHex('91 91 03'), 'unknown frame type array'],
    ]),
    ...bad('invalid-frame', 1002, [
      ['probe without id', raw([3]), "'probe' must have 2 elements, got 1"],
      ['probe with an extra field', raw([3, 1, 2]), "'probe' must have 2 elements, got 3"],
      ['probe with a string id', raw([3, '1']), "'id'"],
      ['probe with a negative id', raw([3, -1]), "'id'"],
      ['probe with a fractional id', raw([3, 1.5]), "'id'"],
      ['probe with id 2^32', raw([3, 2 ** 32]), "'id' from 0 to 4294967295"],
      ['probe answer without id', raw([4]), "'probe-answer' must have 2 to 3 elements"],
      ['probe answer with 4 fields', raw([4, 1, 1, 1]), 'must have 2 to 3 elements'],
      ['probe answer with id 2^32', raw([4, 2 ** 32]), "'id'"],
      ['probe answer with a negative ack', raw([4, 1, -1]), "'ack'"],
      ['probe answer with a nil ack (omit it instead)', raw([4, 1, null]), "'ack'"],
      ['probe answer with an unsafe ack', raw([4, 1, 2 ** 53]), "'ack'"],
      ['message without data', raw([5, 1]), "'message' must have 3 to 6 elements, got 2"],
      [
        'message with an extra field',
        raw([5, 1, null, null, 1, 1, 1]),
        "'message' must have 3 to 6 elements, got 7",
      ],
      ['message with a negative seq', raw([5, -1, null]), "'seq'"],
      ['message with a fractional seq', raw([5, 1.5, null]), "'seq'"],
      ['message with an unsafe seq', raw([5, 2 ** 53, null]), "'seq'"],
      ['message with a uint64 seq of 2^53+1', fromHex('93 05 cf 0020000000000001 c0'), "'seq'"],
      ['message with a string seq', raw([5, '1', null]), "'seq'"],
      ['message with a nil seq', raw([5, null, null]), "'seq'"],
      ...(
        [
          ['an empty event name', raw([5, 1, null, ''])],
          ['an event name of 129 bytes', raw([5, 1, null, 'e'.repeat(MAX_EVENT_LENGTH + 1)])],
          [
            'an event name of 129 UTF-8 bytes in 65 characters',
            raw([5, 1, null, `${'é'.repeat(MAX_EVENT_LENGTH / 2)}e`]),
          ],
          ['a number as event name', raw([5, 1, null, 1])],
          ['a boolean as event name', raw([5, 1, null, true])],
          ['a map as event name', raw([5, 1, null, { name: 'chat' }])],
        ] as const
      ).map(
        ([name, input]) =>
          [
            `message with ${name}`,
            input,
            "'message' requires 'event' to be null or a string of 1 to 128 UTF-8 bytes",
          ] as [string, WireData, string],
      ),
      [
        "message with the reserved event name 'message'",
        raw([5, 1, null, 'message']),
        "'message' 'event' names an event reserved by Probe ('message')",
      ],
      [
        'request with a reserved event name',
        raw([5, 1, null, 'session-lost', 1]),
        "reserved by Probe ('session-lost')",
      ],
      ...[0, -1, 1.5, 2 ** 53, null, '1'].map(
        (call) =>
          [
            `request with call ${JSON.stringify(call)}`,
            raw([5, 1, null, null, call]),
            "'message' requires an integer 'call' from 1 to 9007199254740991",
          ] as [string, WireData, string],
      ),
      ...[0, 3, null, 1.5, '1'].map(
        (reply) =>
          [
            `reply with reply ${JSON.stringify(reply)}`,
            raw([5, 1, null, null, 1, reply]),
            "'message' requires an integer 'reply' from 1 to 2",
          ] as [string, WireData, string],
      ),
      [
        'reply with a non-null event',
        raw([5, 1, null, 'chat', 1, ReplyKind.OK]),
        "'message' that is a reply must have a null 'event'",
      ],
      [
        'volatile request',
        raw([5, 0, null, null, 1]),
        "'message' cannot be volatile (seq 0) and a request or reply",
      ],
      [
        'volatile named request',
        raw([5, 0, null, 'chat', 1]),
        "'message' cannot be volatile (seq 0) and a request or reply",
      ],
      [
        'volatile reply',
        raw([5, 0, null, null, 1, ReplyKind.ERROR]),
        "'message' cannot be volatile (seq 0) and a request or reply",
      ],
      ['ack without seq', raw([6]), "'ack' must have 2 elements"],
      ['ack with a negative seq', raw([6, -1]), "'seq'"],
      ['ack with a fractional seq', raw([6, 0.5]), "'seq'"],
      ['ack with an unsafe seq', raw([6, 2 ** 53]), "'seq'"],
      ['ack with a boolean seq', raw([6, true]), "'seq'"],
      ['hello with 3 fields', raw([1, 1, null]), "'hello' must have 4 elements"],
      ['hello with a string version', raw([1, '1', null, null]), "'version'"],
      ['hello with version 65536', raw([1, 65_536, null, null]), "'version' from 0 to 65535"],
      ['hello with a map resume', raw([1, 1, null, { sessionId: 's' }]), "'resume'"],
      ['hello with a short resume', raw([1, 1, null, ['s1', 't0k']]), "'resume'"],
      [
        'hello with the old 3-element resume (no sentSeq)',
        raw([1, 1, null, ['s1', 't0k', 0]]),
        "'resume' to be null or [sessionId, token, lastSeq, sentSeq]",
      ],
      ['hello with a 5-element resume', raw([1, 1, null, ['s1', 't0k', 0, 0, 0]]), "'resume'"],
      [
        'hello with an empty session id',
        raw([1, 1, null, ['', 't0k', 0, 0]]),
        "'resume.sessionId'",
      ],
      ['hello with a numeric session id', raw([1, 1, null, [1, 't', 0, 0]]), "'resume.sessionId'"],
      [
        'hello with an over-long token',
        raw([1, 1, null, ['s', tooLongId, 0, 0]]),
        "'resume.token'",
      ],
      ['hello with a negative lastSeq', raw([1, 1, null, ['s', 't', -1, 0]]), "'resume.lastSeq'"],
      ['hello with a fractional lastSeq', raw([1, 1, null, [id, id, 0.5, 0]]), "'resume.lastSeq'"],
      ['hello with a nil sentSeq', raw([1, 1, null, ['s', 't', 0, null]]), "'resume.sentSeq'"],
      ['hello with a negative sentSeq', raw([1, 1, null, ['s', 't', 0, -1]]), "'resume.sentSeq'"],
      [
        'hello with a fractional sentSeq',
        raw([1, 1, null, ['s', 't', 0, 1.5]]),
        "'resume.sentSeq'",
      ],
      [
        'hello with an unsafe sentSeq',
        raw([1, 1, null, ['s', 't', 0, 2 ** 53]]),
        "'resume.sentSeq'",
      ],
      ['hello with a string sentSeq', raw([1, 1, null, ['s', 't', 0, '1']]), "'resume.sentSeq'"],
      ['welcome with 8 fields', raw(welcomeFields.slice(0, 8)), "'welcome' must have 10 elements"],
      [
        'welcome with the old 9 fields (no sentSeq)',
        raw(welcomeFields.slice(0, 9)),
        "'welcome' must have 10 elements, got 9",
      ],
      [
        'welcome with 11 fields',
        raw([...welcomeFields, 0]),
        "'welcome' must have 10 elements, got 11",
      ],
      ['welcome with a fractional version', welcomeWith(1, 1.5), "'version'"],
      [
        'welcome with an over-long session id',
        welcomeWith(2, tooLongId),
        "'sessionId' of 1 to 128",
      ],
      ['welcome with an empty token', welcomeWith(3, ''), "'token'"],
      ['welcome with probeIntervalMs 2^32', welcomeWith(4, 2 ** 32), "'probeIntervalMs'"],
      ['welcome with a negative probeTimeoutMs', welcomeWith(5, -1), "'probeTimeoutMs'"],
      ['welcome with a 2^32 maxPayloadBytes', welcomeWith(6, 2 ** 32), "'maxPayloadBytes'"],
      ['welcome with a fractional maxPayloadBytes', welcomeWith(6, 1.5), "'maxPayloadBytes'"],
      ['welcome with resumed 1', welcomeWith(7, 1), "'resumed'"],
      ['welcome with a negative lastSeq', welcomeWith(8, -1), "'lastSeq'"],
      ['welcome with a nil sentSeq', welcomeWith(9, null), "'sentSeq' from 0 to"],
      ['welcome with a negative sentSeq', welcomeWith(9, -1), "'sentSeq'"],
      ['welcome with a fractional sentSeq', welcomeWith(9, 0.5), "'sentSeq'"],
      ['welcome with an unsafe sentSeq', welcomeWith(9, 2 ** 53), "'sentSeq'"],
      ['welcome with a boolean sentSeq', welcomeWith(9, true), "'sentSeq'"],
      ['goodbye without reason', raw([7, 1000]), "'goodbye' must have 3 elements"],
      ['goodbye with code 999', raw([7, 999, '']), "'code' from 1000 to 4999"],
      ['goodbye with code 5000', raw([7, 5000, '']), "'code'"],
      ['goodbye with a string code', raw([7, '1000', '']), "'code'"],
      ['goodbye with a nil reason', raw([7, 1000, null]), "'reason'"],
      [
        'goodbye with an over-long reason',
        raw([7, 1000, 'r'.repeat(124)]),
        "'reason' of at most 123",
      ],
    ]),
  ];

  it.each(cases)('%s', (_name, input, code, closeCode, message) => {
    const error = decodeError(input);
    expect(error.code).toBe(code);
    expect(error.closeCode).toBe(closeCode);
    expect(error.message).toContain(message);
    expect(error.name).toBe('ProtocolError');
    expect(error).toBeInstanceOf(Error);
    expect(isProtocolError(error)).toBe(true);
  });

  it('refuses a frame over maxBytes before decoding it', () => {
    const frame = encodeMessage(1, 'x'.repeat(100));
    const error = decodeError(frame, frame.length - 1);
    expect(error.code).toBe('too-large');
    expect(error.closeCode).toBe(1009);
    expect(error.message).toBe(
      `frame of ${frame.length} bytes exceeds the limit of ${frame.length - 1}`,
    );
    // Size is checked first: even garbage that is too large is reported as too large.
    expect(decodeError(new Uint8Array(10).fill(0xc1), 9).code).toBe('too-large');
  });

  it('keeps every message short enough for a WebSocket close reason (123 bytes)', () => {
    const types = ['x'.repeat(1_000_000), '\u0000'.repeat(100), '字'.repeat(100), '😀'.repeat(100)];
    for (const type of types) {
      const error = decodeError(raw([type]));
      expect(error.code).toBe('unknown-frame-type');
      expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(123);
    }
    const tooLarge = decodeError(new Uint8Array(2 ** 20), 2 ** 20 - 1);
    expect(Buffer.byteLength(tooLarge.message)).toBeLessThanOrEqual(123);
  });

  it('keeps the MessagePack error as the cause of a malformed frame', () => {
    const error = decodeError(fromHex('92 05'));
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('accepts every boundary value just inside the limits', () => {
    expect(decode(raw([3, MAX_UINT32]))).toStrictEqual({ type: FrameType.PROBE, id: MAX_UINT32 });
    expect(decode(raw([5, 1, null]))).toStrictEqual({
      type: FrameType.MESSAGE,
      seq: 1,
      data: null,
    });
    expect(decode(raw([7, 1000, '']))).toMatchObject({ code: 1000 });
    expect(decode(raw([7, 4999, '']))).toMatchObject({ code: 4999 });
    expect(decode(raw([1, 1, null, [id, id, 0, Number.MAX_SAFE_INTEGER]]))).toMatchObject({
      resume: { lastSeq: 0, sentSeq: Number.MAX_SAFE_INTEGER },
    });
    expect(decode(raw([...welcomeFields.slice(0, 9), Number.MAX_SAFE_INTEGER]))).toMatchObject({
      lastSeq: 0,
      sentSeq: Number.MAX_SAFE_INTEGER,
    });
    // Any MessagePack integer width is accepted, not only the shortest one.
    expect(decode(bytes(0x92, 0x06, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5))).toStrictEqual({
      type: FrameType.ACK,
      seq: 5,
    });
    expect(decode(bytes(0x92, 0x06, 0xd0, 0x05))).toStrictEqual({ type: FrameType.ACK, seq: 5 });
  });
});

describe('encoded sizes', () => {
  it('a probe and a probe answer without ack fit in 8 bytes for every id below 2^16', () => {
    let longest = 0;
    for (let id = 0; id < 0x1_0000; id++) {
      longest = Math.max(longest, encodeProbe(id).length, encodeProbeAnswer(id, null).length);
    }
    expect(longest).toBeLessThanOrEqual(8);
  });

  // The sizes PROTOCOL.md quotes; a change here is a change to the docs.
  const sizes: [string, Uint8Array, number][] = [
    ['probe id 127', encodeProbe(127), 3],
    ['probe id 65535', encodeProbe(65_535), 5],
    ['probe id 2^32-1', encodeProbe(MAX_UINT32), 7],
    ['probe answer id 65535, no ack', encodeProbeAnswer(65_535, null), 5],
    ['probe answer id 65535, ack 65535', encodeProbeAnswer(65_535, 65_535), 8],
    ['ack 65535', encodeAck(65_535), 5],
    ['goodbye 1000, empty reason', encode({ type: FrameType.GOODBYE, code: 1000, reason: '' }), 6],
    ['hello, no auth, no resume', encode(hello), 5],
    ['welcome, 2-char id, 3-char token', encode(welcome), 24],
    // The reference server's ids are 56 characters and its tokens 43 (base64url).
    [
      'welcome, 56-char id, 43-char token',
      encode({ ...welcome, sessionId: 's'.repeat(56), token: 't'.repeat(43) }),
      120,
    ],
    [
      'hello resuming, 56-char id, 43-char token, lastSeq 1000, sentSeq 1000',
      encode({
        ...hello,
        resume: { sessionId: 's'.repeat(56), token: 't'.repeat(43), lastSeq: 1000, sentSeq: 1000 },
      }),
      114,
    ],
  ];
  it.each(sizes)('%s: %i bytes', (_name, frame, size) => {
    expect(frame.length).toBe(size);
  });
});

describe('encodeMessageWithPayload', () => {
  const seqs = [
    1,
    127,
    128,
    255,
    256,
    65_535,
    65_536,
    MAX_UINT32,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
  ];
  const payloads: [string, unknown][] = [
    ['null', null],
    ['a string', 'hello'],
    ['an object', { text: 'hi', list: [1, 2, 3] }],
    ['bytes', bytes(1, 2, 3)],
    ['a large array', Array.from({ length: 1000 }, (_, i) => i)],
  ];
  for (const [name, data] of payloads) {
    it.each(seqs)(`is byte-identical to encodeMessage for seq %d and ${name}`, (seq) => {
      const framed = encodeMessageWithPayload(seq, encodePayload(data));
      expect(hex(framed)).toBe(hex(encodeMessage(seq, data)));
      expect(decode(framed)).toStrictEqual(decode(plain(encodeMessage(seq, data))));
    });
  }

  it('can frame one payload for many sequence numbers', () => {
    const payload = encodePayload({ room: 'a', text: 'broadcast' });
    for (const seq of seqs) {
      expect(decode(encodeMessageWithPayload(seq, payload))).toStrictEqual({
        type: FrameType.MESSAGE,
        seq,
        data: { room: 'a', text: 'broadcast' },
      });
    }
  });
});

describe('named events, requests and replies (MESSAGE of 4 to 6 elements)', () => {
  const message = (seq: number, data: unknown, extra: Partial<MessageFrame> = {}): Frame => ({
    type: FrameType.MESSAGE,
    seq,
    data,
    ...extra,
  });
  // [name, encodeMessage arguments, decoded frame, element count]
  const layouts: [string, Parameters<typeof encodeMessage>, Frame, number][] = [
    ['plain message', [1, 'hi'], message(1, 'hi'), 3],
    ['volatile message', [0, 'hi'], message(0, 'hi'), 3],
    ['named event', [1, { text: 'hi' }, 'chat'], message(1, { text: 'hi' }, { event: 'chat' }), 4],
    ['volatile named event', [0, true, 'typing'], message(0, true, { event: 'typing' }), 4],
    ['unnamed request', [2, 'ping', null, 1], message(2, 'ping', { event: null, call: 1 }), 5],
    [
      'named request',
      [3, { id: 7 }, 'user:get', 2],
      message(3, { id: 7 }, { event: 'user:get', call: 2 }),
      5,
    ],
    [
      'OK reply',
      [1, 'pong', null, 1, ReplyKind.OK],
      message(1, 'pong', { event: null, call: 1, reply: ReplyKind.OK }),
      6,
    ],
    [
      'ERROR reply',
      [4, { code: 'handler-failed', message: 'failed' }, null, 2, ReplyKind.ERROR],
      message(
        4,
        { code: 'handler-failed', message: 'failed' },
        { event: null, call: 2, reply: ReplyKind.ERROR },
      ),
      6,
    ],
    [
      'reply with the largest seq and call',
      [Number.MAX_SAFE_INTEGER, null, null, Number.MAX_SAFE_INTEGER, ReplyKind.OK],
      message(Number.MAX_SAFE_INTEGER, null, {
        event: null,
        call: Number.MAX_SAFE_INTEGER,
        reply: ReplyKind.OK,
      }),
      6,
    ],
  ];

  it.each(layouts)('%s: encodeMessage, then decode, in both directions', (_, args, frame, n) => {
    const encoded = encodeMessage(...args);
    expect(encoded[0]).toBe(0x90 + n);
    expect(hex(encode(frame))).toBe(hex(encoded));
    expect(decode(plain(encoded))).toStrictEqual(frame);
    expect(decodeFromClient(plain(encoded))).toStrictEqual(frame);
    expect(decodeFromServer(plain(encoded))).toStrictEqual(frame);
    expect(decodeMessageData(encoded)).toStrictEqual(
      frame.type === FrameType.MESSAGE && frame.data,
    );
  });

  it('a plain message has no event, call or reply key; a 4-element one has event null', () => {
    expect(Object.keys(decode(encodeMessage(1, 'hi')))).toEqual(['type', 'seq', 'data']);
    const nilEvent = decode(fromHex('94 05 01 a26869 c0'));
    expect(nilEvent).toStrictEqual({ type: FrameType.MESSAGE, seq: 1, data: 'hi', event: null });
    expect(Object.keys(nilEvent)).toEqual(['type', 'seq', 'data', 'event']);
    expect(Object.keys(decode(encodeMessage(1, 'hi', null, 1)))).toEqual([
      'type',
      'seq',
      'data',
      'event',
      'call',
    ]);
  });

  it('counts the event name in UTF-8 bytes, up to MAX_EVENT_LENGTH', () => {
    for (const event of ['e', 'e'.repeat(MAX_EVENT_LENGTH), 'é'.repeat(MAX_EVENT_LENGTH / 2)]) {
      expect(decode(encodeMessage(1, null, event))).toMatchObject({ event });
    }
    const emoji = '😀'.repeat(MAX_EVENT_LENGTH / 4); // 4 bytes each
    expect(decode(encodeMessage(1, null, emoji))).toMatchObject({ event: emoji });
    expect(decodeError(encodeMessage(1, null, `${emoji}e`)).code).toBe('invalid-frame');
  });

  it('refuses every reserved event name, in events and requests, both ways', () => {
    for (const name of RESERVED_EVENTS) {
      for (const frame of [raw([5, 1, null, name]), raw([5, 1, null, name, 1])]) {
        for (const read of [decode, decodeFromClient, decodeFromServer]) {
          let thrown: unknown;
          try {
            read(frame);
          } catch (error) {
            thrown = error;
          }
          expect(thrown).toMatchObject({ code: 'invalid-frame', closeCode: 1002 });
          expect((thrown as Error).message).toBe(
            `'message' 'event' names an event reserved by Probe ('${name}')`,
          );
        }
      }
      // Only the exact name is reserved.
      expect(decode(raw([5, 1, null, `${name}!`]))).toMatchObject({ event: `${name}!` });
      expect(decode(raw([5, 1, null, name.toUpperCase()]))).toMatchObject({
        event: name.toUpperCase(),
      });
    }
  });

  const seqs = [0, 1, 127, 128, 65_536, 2 ** 32, Number.MAX_SAFE_INTEGER];
  const events = [null, 'chat', 'e'.repeat(MAX_EVENT_LENGTH), 'é'.repeat(MAX_EVENT_LENGTH / 2)];
  it.each(events)(
    'encodePayload with event %s frames byte-identically to encodeMessage',
    (event) => {
      for (const data of [null, 'hello', { room: 'a', list: [1, 2, 3] }, bytes(1, 2, 3)]) {
        const payload = encodePayload(data, event);
        expect(payload[0]).toBe(event === null ? 0x93 : 0x94);
        for (const seq of seqs) {
          const framed = encodeMessageWithPayload(seq, payload);
          expect(hex(framed)).toBe(hex(encodeMessage(seq, data, event)));
          expect(decodeFromServer(framed)).toStrictEqual(
            event === null
              ? { type: FrameType.MESSAGE, seq, data }
              : { type: FrameType.MESSAGE, seq, data, event },
          );
        }
      }
    },
  );
});

describe('wire examples in PROTOCOL.md', () => {
  const examples: [string, Uint8Array, string][] = [
    ['hello, fresh', encode(hello), '9401 01c0c0'],
    [
      'hello with auth',
      encode({ ...hello, auth: { token: 'abc' } }),
      '9401 01de0001a5746f6b656ea3616263 c0',
    ],
    [
      'hello with resume',
      encode({ ...hello, resume: { sessionId: 's1', token: 't0k', lastSeq: 42, sentSeq: 19 } }),
      '9401 01c0 94a27331a374306b2a13',
    ],
    ['welcome', encode(welcome), '9a02 01 a27331 a374306b cd2710 cd1388 ce00100000 c2 00 00'],
    [
      'welcome, resumed',
      encode({ ...welcome, token: 'n3w', resumed: true, lastSeq: 17, sentSeq: 43 }),
      '9a02 01 a27331 a36e3377 cd2710 cd1388 ce00100000 c3 11 2b',
    ],
    ['probe 7', encodeProbe(7), '9203 07'],
    ['probe 65535', encodeProbe(65_535), '9203 cdffff'],
    ['probe answer 7', encodeProbeAnswer(7, null), '9204 07'],
    ['probe answer 7, ack 3', encodeProbeAnswer(7, 3), '9304 07 03'],
    ['message 1 "hi"', encodeMessage(1, 'hi'), '9305 01 a26869'],
    ['message 1 {text: "hi"}', encodeMessage(1, { text: 'hi' }), '9305 01 de0001a474657874a26869'],
    ['message 300 bytes', encodeMessage(300, bytes(1, 2, 3)), '9305 cd012c c403010203'],
    ['message 2^32 nil', encodeMessage(2 ** 32, null), '9305 cb41f0000000000000 c0'],
    ['message 0 (volatile) "hi"', encodeMessage(0, 'hi'), '9305 00 a26869'],
    [
      'event "chat"',
      encodeMessage(1, { text: 'hi' }, 'chat'),
      '9405 01 de0001a474657874a26869 a463686174',
    ],
    ['volatile event "typing"', encodeMessage(0, true, 'typing'), '9405 00 c3 a6747970696e67'],
    ['request', encodeMessage(2, 'ping', null, 1), '9505 02 a470696e67 c0 01'],
    [
      'request "user:get"',
      encodeMessage(3, { id: 7 }, 'user:get', 2),
      '9505 03 de0001a2696407 a8757365723a676574 02',
    ],
    ['OK reply', encodeMessage(1, 'pong', null, 1, ReplyKind.OK), '9605 01 a4706f6e67 c0 01 01'],
    [
      'ERROR reply',
      encodeMessage(4, { code: 'not-found', message: 'no such user' }, null, 2, ReplyKind.ERROR),
      '9605 04 de0002a4636f6465a96e6f742d666f756e64a76d657373616765ac6e6f20737563682075736572 c0 02 02',
    ],
    ['ack 3', encodeAck(3), '9206 03'],
    [
      'goodbye 1000 "bye"',
      encode({ type: FrameType.GOODBYE, code: 1000, reason: 'bye' }),
      '9307 cd03e8 a3627965',
    ],
  ];
  it.each(examples)('%s', (_name, frame, expected) => {
    expect(hex(frame)).toBe(expected.replaceAll(' ', ''));
  });
});
