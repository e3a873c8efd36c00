import { writeFileSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { it } from 'vitest';
import { frameToJson, type JsonFrame, jsonToFrame } from './conformance/json-frame.js';
import {
  CloseCode,
  closeCodeName,
  decode,
  decodeFromClient,
  decodeFromServer,
  encode,
  endsSession,
  type Frame,
  isRetryableClose,
  ProtocolError,
  ProtocolErrorCodes,
} from './index.js';

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
});
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Hex grouped by element: the array header, then each element's bytes. */
function grouped(bytes: Uint8Array): string {
  const value = packr.unpack(bytes) as unknown[];
  const parts = [hex(bytes.subarray(0, 1))];
  let at = 1;
  for (const element of value) {
    const one = packr.pack(element);
    const piece = bytes.subarray(at, at + one.length);
    if (hex(piece) !== hex(one)) return hex(bytes); // not separable: keep it whole
    parts.push(hex(piece));
    at += one.length;
  }
  return at === bytes.length ? parts.join(' ') : hex(bytes);
}

it('gen', () => {
  const valid: unknown[] = [];
  function add(name: string, frame: JsonFrame) {
    const bytes = encode(jsonToFrame(frame));
    const back = frameToJson(decode(bytes));
    if (JSON.stringify(back) !== JSON.stringify(frame))
      throw new Error(`${name}: ${JSON.stringify(back)} != ${JSON.stringify(frame)}`);
    valid.push({ name, hex: grouped(bytes), frame });
  }
  function accept(name: string, hexText: string, frame: JsonFrame) {
    const bytes = Buffer.from(hexText.replaceAll(' ', ''), 'hex');
    const back = frameToJson(decode(bytes));
    if (JSON.stringify(back) !== JSON.stringify(frame))
      throw new Error(`${name}: ${JSON.stringify(back)} != ${JSON.stringify(frame)}`);
    if (hex(encode(jsonToFrame(frame))) === hex(bytes)) throw new Error(`${name} is canonical`);
    valid.push({ name, hex: hexText, frame, canonical: false });
  }

  const S56 = 'AbCdEfGhIjKl.' + 'x'.repeat(43);
  const T43 = 'y'.repeat(43);
  const hello = (auth: unknown, resume: unknown, version = 1) =>
    ({ type: 'hello', version, auth, resume }) as JsonFrame;
  const welcome = (o: Record<string, unknown> = {}) =>
    ({
      type: 'welcome',
      version: 1,
      sessionId: 's1',
      token: 't0k',
      probeIntervalMs: 10000,
      probeTimeoutMs: 5000,
      maxPayloadBytes: 1048576,
      resumed: false,
      lastSeq: 0,
      sentSeq: 0,
      ...o,
    }) as JsonFrame;

  add('hello, new session, no auth', hello(null, null));
  add('hello, auth {token: "abc"}', hello({ token: 'abc' }, null));
  add(
    'hello, resuming ["s1", "t0k", 42, 19]',
    hello(null, { sessionId: 's1', token: 't0k', lastSeq: 42, sentSeq: 19 }),
  );
  add(
    'hello, resuming with a 56-character id and a 43-character token',
    hello(null, { sessionId: S56, token: T43, lastSeq: 1000, sentSeq: 1000 }),
  );
  add('hello, version 0 (decodes; a server refuses it with 4501)', hello(null, null, 0));
  add('hello, version 65535', hello(null, null, 65535));
  add('hello, auth is a string', hello('secret', null));
  add('welcome, new session', welcome());
  add(
    'welcome, resumed with token "n3w", lastSeq 17, sentSeq 43',
    welcome({ token: 'n3w', resumed: true, lastSeq: 17, sentSeq: 43 }),
  );
  add('welcome, 56-character id, 43-character token', welcome({ sessionId: S56, token: T43 }));
  add(
    'welcome, smallest timing and payload limit',
    welcome({ probeIntervalMs: 10, probeTimeoutMs: 10, maxPayloadBytes: 64 }),
  );
  add(
    'welcome, largest timing and payload limit',
    welcome({ probeIntervalMs: 3600000, probeTimeoutMs: 3600000, maxPayloadBytes: 2147483647 }),
  );
  for (const id of [0, 7, 127, 128, 255, 256, 65535, 65536, 4294967295])
    add(`probe id ${id}`, { type: 'probe', id } as JsonFrame);
  add('probe-answer id 7', { type: 'probe-answer', id: 7 } as JsonFrame);
  add('probe-answer id 7, ack 3', { type: 'probe-answer', id: 7, ack: 3 } as JsonFrame);
  add('probe-answer id 7, ack 0', { type: 'probe-answer', id: 7, ack: 0 } as JsonFrame);
  add('probe-answer id 65535, ack 65535', {
    type: 'probe-answer',
    id: 65535,
    ack: 65535,
  } as JsonFrame);
  const message = (seq: number, data: unknown) => ({ type: 'message', seq, data }) as JsonFrame;
  add('message 1, "hi"', message(1, 'hi'));
  add(
    'message 1, {text: "hi"} (the reference encoder writes maps with a map16 header)',
    message(1, { text: 'hi' }),
  );
  add('message 300, bytes 01 02 03', message(300, { $bin: '010203' }));
  add('message 1, nil', message(1, null));
  add('message 1, true', message(1, true));
  add('message 1, -1', message(1, -1));
  add('message 1, -129', message(1, -129));
  add('message 1, 1.5', message(1, 1.5));
  add('message 1, ""', message(1, ''));
  add('message 1, "é😀"', message(1, 'é😀'));
  add('message 1, a 32-character string (str8)', message(1, 'z'.repeat(32)));
  add('message 1, [1, "two", [3], {four: 4}]', message(1, [1, 'two', [3], { four: 4 }]));
  add(
    'message 2^32, nil (integers of 2^32 and above are written as float64)',
    message(2 ** 32, null),
  );
  add('message 2^53-1, nil', message(2 ** 53 - 1, null));
  for (const seq of [0, 3, 65535, 2 ** 32]) add(`ack ${seq}`, { type: 'ack', seq } as JsonFrame);
  add('goodbye 1000 "bye"', { type: 'goodbye', code: 1000, reason: 'bye' } as JsonFrame);
  add('goodbye 1000 ""', { type: 'goodbye', code: 1000, reason: '' } as JsonFrame);
  add('goodbye with a reason of 123 UTF-8 bytes', {
    type: 'goodbye',
    code: 4500,
    reason: 'é'.repeat(61) + 'x',
  } as JsonFrame);
  // Every close code a reference peer sends in a GOODBYE, with the reason it sends.
  const goodbyes: [number, string][] = [
    [1000, 'client-closed'],
    [1000, 'client closed'],
    [1002, 'frame type 5 is not allowed before hello'],
    [1003, 'text frames are not supported; send binary MessagePack'],
    [1007, 'frame is not valid MessagePack'],
    [1011, 'internal error'],
    [1013, 'server is full'],
    [1013, 'too many resumes'],
    [1013, 'session store unavailable'],
    [4000, 'server shutting down'],
    [4002, 'no hello within the handshake timeout'],
    [4004, 'message 3 arrived, expected 2'],
    [4010, 'unknown session'],
    [4011, 'session ended (session-expired)'],
    [4012, 'session belongs to a server instance that is gone'],
    [4013, 'invalid resume token'],
    [4014, 'session ended (normal)'],
    [4020, 'session ended (buffer-overflow)'],
    [4500, 'server-closed'],
    [4501, 'protocol version 2 is not supported (server speaks 1)'],
    [4502, 'session resumed on another connection'],
    [4503, 'unauthorized'],
  ];
  for (const [code, reason] of goodbyes)
    add(`goodbye ${code} "${reason}"`, { type: 'goodbye', code, reason } as JsonFrame);

  accept('hello, version as uint8', '94 01 cc01 c0 c0', hello(null, null));
  accept('hello, version as uint16', '94 01 cd0001 c0 c0', hello(null, null));
  accept('hello, version as int8', '94 01 d001 c0 c0', hello(null, null));
  accept('hello, frame type as uint8', '94 cc01 01 c0 c0', hello(null, null));
  accept('hello, version as float64 1.0', '94 01 cb3ff0000000000000 c0 c0', hello(null, null));
  accept(
    'hello, resume strings as str8',
    '94 01 01 c0 94 d9027331 d90374306b 2a 13',
    hello(null, { sessionId: 's1', token: 't0k', lastSeq: 42, sentSeq: 19 }),
  );
  accept('probe id 7 as uint32', '92 03 ce00000007', { type: 'probe', id: 7 } as JsonFrame);
  accept('probe id 7 as uint64', '92 03 cf0000000000000007', { type: 'probe', id: 7 } as JsonFrame);
  accept('probe id 7 as int64', '92 03 d30000000000000007', { type: 'probe', id: 7 } as JsonFrame);
  accept('ack 3 as float32', '92 06 ca40400000', { type: 'ack', seq: 3 } as JsonFrame);
  accept('ack 2^32 as uint64', '92 06 cf0000000100000000', {
    type: 'ack',
    seq: 2 ** 32,
  } as JsonFrame);
  accept(
    'message 1, {text: "hi"} as a fixmap',
    '93 05 01 81a474657874a26869',
    message(1, { text: 'hi' }),
  );
  accept('message 1, "hi" as str16', '93 05 01 da00026869', message(1, 'hi'));
  accept('message 1, [1] as array16', '93 05 01 dc000101', message(1, [1]));
  accept('message 1, bytes as bin16', '93 05 01 c50003010203', message(1, { $bin: '010203' }));
  accept('message 1, 1.5 as float32', '93 05 01 ca3fc00000', message(1, 1.5));
  accept(
    'welcome, maxPayloadBytes as uint64',
    '9a 02 01 a27331 a374306b cd2710 cd1388 cf0000000000100000 c2 00 00',
    welcome(),
  );

  const invalid: unknown[] = [];
  function refuse(
    name: string,
    input: {
      hex?: string;
      text?: string;
      receiver?: 'client' | 'server';
      maxPayloadBytes?: number;
    },
    error: keyof typeof ProtocolErrorCodes,
  ) {
    const data =
      input.text !== undefined
        ? input.text
        : new Uint8Array(Buffer.from(input.hex!.replaceAll(' ', ''), 'hex'));
    const run =
      input.receiver === 'client'
        ? decodeFromServer
        : input.receiver === 'server'
          ? decodeFromClient
          : decode;
    try {
      run(data, input.maxPayloadBytes);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      if (e.code !== error) throw new Error(`${name}: got ${e.code} (${e.message}), want ${error}`);
      invalid.push({ name, ...input, error, closeCode: e.closeCode });
      return;
    }
    throw new Error(`${name}: accepted`);
  }
  refuse('a text message', { text: 'hello?' }, 'text-frame');
  refuse('an empty text message', { text: '' }, 'text-frame');
  refuse(
    '9 bytes where the receiver accepts 8',
    { hex: '93 05 01 a5 68656c6c6f', maxPayloadBytes: 8 },
    'too-large',
  );
  refuse('an empty message', { hex: '' }, 'invalid-frame');
  refuse('an empty array', { hex: '90' }, 'invalid-frame');
  refuse('nil', { hex: 'c0' }, 'invalid-frame');
  refuse('a positive fixint', { hex: '01' }, 'invalid-frame');
  refuse('a map', { hex: '81 a474797065 01' }, 'invalid-frame');
  refuse('a string', { hex: 'a568656c6c6f' }, 'invalid-frame');
  refuse('an array16 holding a valid ack', { hex: 'dc0002 06 03' }, 'invalid-frame');
  refuse('an array32 holding a valid ack', { hex: 'dd00000002 06 03' }, 'invalid-frame');
  refuse('bytes that are not MessagePack at all', { hex: 'c1ff001337' }, 'invalid-frame');
  refuse(
    'a timestamp (fixext 4, type -1) in message data',
    { hex: '93 05 01 d6ff00000000' },
    'unsupported-type',
  );
  refuse(
    'a timestamp (ext 8, type -1) in message data',
    { hex: '93 05 01 c70cff000000000000000000000000' },
    'unsupported-type',
  );
  refuse(
    'extension type 0x42 (fixext 1) in hello auth',
    { hex: '94 01 01 d44200 c0' },
    'unsupported-type',
  );
  refuse(
    'extension type 1 (fixext 16) nested in a map',
    { hex: '93 05 01 81a161 91 d801' + '00'.repeat(16) },
    'unsupported-type',
  );
  refuse(
    'extension type 5 (ext 16) in message data',
    { hex: '93 05 01 c8000105ff' },
    'unsupported-type',
  );
  refuse(
    'extension type 7 (ext 32) as the frame type',
    { hex: '92 c9000000010700 01' },
    'unsupported-type',
  );
  refuse('an extension value before a truncation', { hex: '93 05 01 d4ff' }, 'unsupported-type');
  refuse('a truncated frame (array of 3, 2 elements)', { hex: '93 05' }, 'malformed');
  refuse('a truncated string', { hex: '93 05 01 a5 6869' }, 'malformed');
  refuse('a truncated hello', { hex: '94 01 01' }, 'malformed');
  refuse('the never-used byte 0xc1 in message data', { hex: '93 05 01 c1' }, 'malformed');
  refuse(
    'an array32 claiming 2^32-1 elements in message data',
    { hex: '93 05 01 ddffffffff' },
    'malformed',
  );
  refuse(
    'a str32 claiming more bytes than follow',
    { hex: '93 05 01 db000000ff 6869' },
    'malformed',
  );
  refuse('a byte after a complete ack', { hex: '92 06 03 00' }, 'trailing-bytes');
  refuse('two frames in one message', { hex: '92 06 03 92 06 04' }, 'trailing-bytes');
  refuse('frame type 0', { hex: '92 00 01' }, 'unknown-frame-type');
  refuse('frame type 8', { hex: '92 08 01' }, 'unknown-frame-type');
  refuse('frame type 99', { hex: '92 63 01' }, 'unknown-frame-type');
  refuse('frame type -1', { hex: '92 ff 01' }, 'unknown-frame-type');
  refuse('frame type as a string', { hex: '91 a568656c6c6f' }, 'unknown-frame-type');
  refuse('frame type nil', { hex: '92 c0 01' }, 'unknown-frame-type');
  refuse('frame type 1.5', { hex: '94 cb3ff8000000000000 01 c0 c0' }, 'unknown-frame-type');
  refuse(
    'hello received by a client',
    { hex: '94 01 01 c0 c0', receiver: 'client' },
    'unexpected-frame',
  );
  refuse(
    'probe-answer received by a client',
    { hex: '92 04 07', receiver: 'client' },
    'unexpected-frame',
  );
  refuse(
    'welcome received by a server',
    { hex: '9a 02 01 a27331 a374306b cd2710 cd1388 ce00100000 c2 00 00', receiver: 'server' },
    'unexpected-frame',
  );
  refuse('probe received by a server', { hex: '92 03 07', receiver: 'server' }, 'unexpected-frame');
  refuse(
    'a wrongly typed probe received by a server (direction is checked first)',
    { hex: '92 03 a178', receiver: 'server' },
    'unexpected-frame',
  );
  refuse('hello with 3 elements', { hex: '93 01 01 c0' }, 'invalid-frame');
  refuse('hello with 5 elements', { hex: '95 01 01 c0 c0 c0' }, 'invalid-frame');
  refuse('hello with a string version', { hex: '94 01 a131 c0 c0' }, 'invalid-frame');
  refuse('hello with version 65536', { hex: '94 01 ce00010000 c0 c0' }, 'invalid-frame');
  refuse('hello with version -1', { hex: '94 01 ff c0 c0' }, 'invalid-frame');
  refuse('hello with version 1.5', { hex: '94 01 cb3ff8000000000000 c0 c0' }, 'invalid-frame');
  refuse('hello with resume as a map', { hex: '94 01 01 c0 80' }, 'invalid-frame');
  refuse(
    'hello with resume of 3 elements',
    { hex: '94 01 01 c0 93 a27331 a374306b 00' },
    'invalid-frame',
  );
  refuse(
    'hello with resume of 5 elements',
    { hex: '94 01 01 c0 95 a27331 a374306b 00 00 00' },
    'invalid-frame',
  );
  refuse(
    'hello with an empty session id',
    { hex: '94 01 01 c0 94 a0 a374306b 00 00' },
    'invalid-frame',
  );
  refuse(
    'hello with a session id of 129 characters',
    { hex: `94 01 01 c0 94 d981${'61'.repeat(129)} a374306b 00 00` },
    'invalid-frame',
  );
  refuse('hello with an empty token', { hex: '94 01 01 c0 94 a27331 a0 00 00' }, 'invalid-frame');
  refuse('hello with a numeric token', { hex: '94 01 01 c0 94 a27331 07 00 00' }, 'invalid-frame');
  refuse(
    'hello with a negative resume lastSeq',
    { hex: '94 01 01 c0 94 a27331 a374306b ff 00' },
    'invalid-frame',
  );
  refuse(
    'hello with resume sentSeq 2^53',
    { hex: '94 01 01 c0 94 a27331 a374306b 00 cb4340000000000000' },
    'invalid-frame',
  );
  refuse(
    'welcome with 9 elements',
    { hex: '99 02 01 a27331 a374306b cd2710 cd1388 ce00100000 c2 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with probeIntervalMs 9',
    { hex: '9a 02 01 a27331 a374306b 09 cd1388 ce00100000 c2 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with probeTimeoutMs 3600001',
    { hex: '9a 02 01 a27331 a374306b cd2710 ce0036ee81 ce00100000 c2 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with maxPayloadBytes 63',
    { hex: '9a 02 01 a27331 a374306b cd2710 cd1388 3f c2 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with maxPayloadBytes 2^31',
    { hex: '9a 02 01 a27331 a374306b cd2710 cd1388 ce80000000 c2 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with resumed as 0',
    { hex: '9a 02 01 a27331 a374306b cd2710 cd1388 ce00100000 00 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with an empty session id',
    { hex: '9a 02 01 a0 a374306b cd2710 cd1388 ce00100000 c2 00 00' },
    'invalid-frame',
  );
  refuse(
    'welcome with a nil token',
    { hex: '9a 02 01 a27331 c0 cd2710 cd1388 ce00100000 c2 00 00' },
    'invalid-frame',
  );
  refuse('probe with id -1', { hex: '92 03 ff' }, 'invalid-frame');
  refuse('probe with id 2^32', { hex: '92 03 cf0000000100000000' }, 'invalid-frame');
  refuse('probe without id', { hex: '91 03' }, 'invalid-frame');
  refuse('probe-answer with a nil ack', { hex: '93 04 07 c0' }, 'invalid-frame');
  refuse('probe-answer with 4 elements', { hex: '94 04 07 03 03' }, 'invalid-frame');
  refuse('probe-answer with a negative ack', { hex: '93 04 07 ff' }, 'invalid-frame');
  refuse('message without data', { hex: '92 05 01' }, 'invalid-frame');
  refuse('message with 4 elements', { hex: '94 05 01 c0 c0' }, 'invalid-frame');
  refuse('message with seq -1', { hex: '93 05 ff c0' }, 'invalid-frame');
  refuse('message with seq 1.5', { hex: '93 05 cb3ff8000000000000 c0' }, 'invalid-frame');
  refuse('message with seq 2^53', { hex: '93 05 cb4340000000000000 c0' }, 'invalid-frame');
  refuse('message with a string seq', { hex: '93 05 a131 c0' }, 'invalid-frame');
  refuse('ack without seq', { hex: '91 06' }, 'invalid-frame');
  refuse('ack with 3 elements', { hex: '93 06 03 03' }, 'invalid-frame');
  refuse('ack with a nil seq', { hex: '92 06 c0' }, 'invalid-frame');
  refuse('goodbye with code 999', { hex: '93 07 cd03e7 a0' }, 'invalid-frame');
  refuse('goodbye with code 5000', { hex: '93 07 cd1388 a0' }, 'invalid-frame');
  refuse(
    'goodbye with a reason of 124 UTF-8 bytes',
    { hex: `93 07 cd03e8 d97c${'c3a9'.repeat(62)}` },
    'invalid-frame',
  );
  refuse(
    'goodbye with a reason of 124 ASCII characters',
    { hex: `93 07 cd03e8 d97c${'78'.repeat(124)}` },
    'invalid-frame',
  );
  refuse('goodbye with a nil reason', { hex: '93 07 cd03e8 c0' }, 'invalid-frame');
  refuse('goodbye without reason', { hex: '92 07 cd03e8' }, 'invalid-frame');

  const closeCodes = Object.entries(CloseCode).map(([name, code]) => ({
    code,
    name,
    next: !isRetryableClose(code) ? 'final' : endsSession(code) ? 'fresh-session' : 'resume',
  }));
  const otherCodes = [
    1004, 1005, 1010, 1014, 1015, 3000, 3999, 4005, 4009, 4015, 4499, 4505, 4999,
  ].map((code) => ({
    code,
    next: !isRetryableClose(code) ? 'final' : endsSession(code) ? 'fresh-session' : 'resume',
  }));
  console.log(closeCodeName(1000));
  const out = { valid, invalid, closeCodes, otherCodes, errorCodes: ProtocolErrorCodes };
  writeFileSync('/tmp/scratch/frames-gen.json', JSON.stringify(out, null, 2));
  console.log(valid.length, invalid.length);
});
