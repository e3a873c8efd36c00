// A real ProbeClient against a server that sends what no correct server sends: a WELCOME with
// impossible fields, extension types, bytes that are not a frame, a frame over the client's
// maxPayloadBytes, frames out of order or of the wrong direction, a malformed GOODBYE. Each time the client must refuse with the close code of PROTOCOL.md section 11,
// report through 'error' and 'close', not retry a final code, never send a GOODBYE (that would
// end the session), and never let an exception escape or a timer spin.

import { CloseCode, ProbeClient, type ProbeClientOptions, ProtocolError } from '@probe/client';
import { encodeMessage, FrameType } from '@probe/protocol';
import { sleep, waitFor } from '@probe/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ClientLog,
  frameBytes,
  type HostileServer,
  quickOptions,
  startHostileServer,
  timersCreatedDuring,
  watchProcess,
  welcomeElements,
} from './hostile-server.js';
import { seededRandom } from './random.js';

let server: HostileServer;
let client: ProbeClient | undefined;
let process_: ReturnType<typeof watchProcess>;

beforeEach(async () => {
  process_ = watchProcess();
  server = await startHostileServer();
});

afterEach(async () => {
  client?.close();
  client = undefined;
  await server.close();
  process_.stop();
  expect(process_.escaped).toEqual([]);
});

/** Retries without delay: one that should not happen shows within a few milliseconds. */
function connect(options: ProbeClientOptions = {}): { client: ProbeClient; log: ClientLog } {
  const reconnect = { initialDelayMs: 0, maxDelayMs: 0, ...options.reconnect };
  client = new ProbeClient(server.url, quickOptions({ ...options, reconnect }));
  return { client, log: new ClientLog(client) };
}

/** The client made no second connection (it would come at once, see `connect`). */
async function expectNoRetry(): Promise<void> {
  await sleep(40);
  expect(server.peers).toHaveLength(1);
}

/**
 * The client refused a frame: one ProtocolError with `code` reported, 'close' with its close
 * code, no retry, no GOODBYE, and the socket closed (with 1000 below 3000, as browsers allow).
 */
async function expectRefused(log: ClientLog, code: string, closeCode: number): Promise<void> {
  const closed = await log.closed();
  expect(closed.code).toBe(closeCode);
  expect(log.errors).toHaveLength(1);
  expect(log.errors[0]).toBeInstanceOf(ProtocolError);
  expect(log.errors[0]).toMatchObject({ code, closeCode });
  expect(closed.reason).toBe((log.errors[0] as Error).message);
  expect(log.disconnects).toEqual([]);
  expect(client!.state).toBe('closed');
  const peer = server.peers[0]!;
  await peer.waitClosed();
  expect(peer.closeCode).toBe(closeCode >= 3000 ? closeCode : CloseCode.NORMAL);
  expect(peer.sent(FrameType.GOODBYE)).toEqual([]);
  expect(peer.invalid).toEqual([]);
  await expectNoRetry();
}

describe('a WELCOME with fields out of range is refused (invalid-frame, 1002)', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['probeIntervalMs 2^32 − 1', { probeIntervalMs: 2 ** 32 - 1 }],
    ['probeIntervalMs 2^31 (setTimeout would fire at once)', { probeIntervalMs: 2 ** 31 }],
    ['probeIntervalMs 0', { probeIntervalMs: 0 }],
    ['probeIntervalMs −1', { probeIntervalMs: -1 }],
    ['probeIntervalMs 9 (below 10)', { probeIntervalMs: 9 }],
    ['probeIntervalMs 10.5', { probeIntervalMs: 10.5 }],
    ['probeIntervalMs NaN', { probeIntervalMs: Number.NaN }],
    ['probeTimeoutMs 2^32 − 1', { probeTimeoutMs: 2 ** 32 - 1 }],
    ['probeTimeoutMs 3,600,001', { probeTimeoutMs: 3_600_001 }],
    ['probeTimeoutMs −2^31', { probeTimeoutMs: -(2 ** 31) }],
    ['probeTimeoutMs Infinity', { probeTimeoutMs: Number.POSITIVE_INFINITY }],
    ['maxPayloadBytes 0', { maxPayloadBytes: 0 }],
    ['maxPayloadBytes 63', { maxPayloadBytes: 63 }],
    ['maxPayloadBytes 2^31', { maxPayloadBytes: 2 ** 31 }],
    ['maxPayloadBytes 2^53', { maxPayloadBytes: 2 ** 53 }],
    ['a number for the session id', { sessionId: 42 }],
    ['nil for the session id', { sessionId: null }],
    ['bytes for the session id', { sessionId: new Uint8Array([0x73, 0x31]) }],
    ['an empty session id', { sessionId: '' }],
    ['a session id of 129 characters', { sessionId: 's'.repeat(129) }],
    ['a token of 129 characters', { token: 't'.repeat(129) }],
    ['a token of 100,000 characters', { token: 't'.repeat(100_000) }],
    ['a map for the token', { token: { secret: 'x' } }],
    ['resumed 1 instead of a boolean', { resumed: 1 }],
    ['version 65536', { version: 65_536 }],
    ['lastSeq −1', { lastSeq: -1 }],
    ['sentSeq 2^53', { sentSeq: 2 ** 53 }],
  ];

  it.each(cases)('%s', async (_name, fields) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw(frameBytes(welcomeElements(fields)));
    await expectRefused(log, 'invalid-frame', CloseCode.PROTOCOL_ERROR);
    expect(log.opens).toEqual([]);
  });

  it.each([
    [9, welcomeElements().slice(0, 9)],
    [11, [...welcomeElements(), 0]],
  ])('a WELCOME of %i elements', async (_count, elements) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw(frameBytes(elements));
    await expectRefused(log, 'invalid-frame', CloseCode.PROTOCOL_ERROR);
  });

  it('a token of 2 MiB: larger than maxPayloadBytes, refused before decoding (too-large, 1009)', async () => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw(frameBytes(welcomeElements({ token: 't'.repeat(2 << 20) })));
    await expectRefused(log, 'too-large', CloseCode.MESSAGE_TOO_BIG);
  });

  it('after refusing a 2^31 ms probe interval no timer spins', async () => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw(frameBytes(welcomeElements({ probeIntervalMs: 2 ** 31, probeTimeoutMs: 2 ** 31 })));
    await log.closed();
    expect(await timersCreatedDuring(500)).toBeLessThan(20);
  });

  it('the largest timing a WELCOME may announce (1 h + 1 h) opens the session without spinning', async () => {
    const { client, log } = connect();
    const peer = await server.nextPeer(0);
    await peer.welcome({ probeIntervalMs: 3_600_000, probeTimeoutMs: 3_600_000 });
    await waitFor(() => client.state === 'open');
    expect(await timersCreatedDuring(500)).toBeLessThan(20);
    expect(log.errors).toEqual([]);
    expect(client.state).toBe('open');
  });
});

/** A MESSAGE header (`[5, 1, …]`) in front of hand-written data bytes. */
const message1 = (...data: number[]) => [0x93, 0x05, 0x01, ...data];
const ascii = (text: string) => [...Buffer.from(text, 'latin1')];

describe('MessagePack extension types in data are refused (unsupported-type, 1003)', () => {
  const cases: [string, number[]][] = [
    ['a timestamp (−1), 32-bit', message1(0xd6, 0xff, 0, 0, 0, 0)],
    ['a timestamp (−1), 64-bit', message1(0xd7, 0xff, ...new Array(8).fill(0))],
    ['a timestamp (−1), 96-bit', message1(0xc7, 12, 0xff, ...new Array(12).fill(0xff))],
    [
      "msgpackr's BigInt (0x42) of 64 KiB",
      [...message1(0xc9, 0, 1, 0, 0, 0x42), ...new Array(1 << 16).fill(0x7f)],
    ],
    [
      "msgpackr's RegExp (0x78) '(a+)+$'",
      message1(0xd4, 0x78, 0, 0x92, 0xa6, ...ascii('(a+)+$'), 0xa0),
    ],
    [
      "msgpackr's Error (0x65)",
      message1(0xd4, 0x65, 0, 0x93, 0xa5, ...ascii('Error'), 0xa1, 0x78, 0xc0),
    ],
    ["msgpackr's Set (0x73)", message1(0xd4, 0x73, 0, 0x90)],
    ['extension type 0 (undefined to some decoders)', message1(0xd4, 0x00, 0x00)],
    ['a timestamp deep in a map', message1(0x81, 0xa1, 0x61, 0x92, 0x01, 0xd6, 0xff, 0, 0, 0, 0)],
    ['a timestamp in place of the seq', [0x93, 0x05, 0xd6, 0xff, 0, 0, 0, 1, 0xc0]],
  ];

  it.each(cases)('%s', async (_name, bytes) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.welcome();
    peer.raw(bytes);
    await expectRefused(log, 'unsupported-type', CloseCode.UNSUPPORTED_DATA);
    expect(log.messages).toEqual([]);
  });
});

describe('bytes that are not one frame are refused', () => {
  const random = seededRandom(0x5eed);
  const garbage = [0x00, ...Array.from({ length: 255 }, () => Math.floor(random() * 256))];
  const truncated = [...encodeMessage(1, 'hello, world')].slice(0, -4);
  const cases: [string, string, number, () => number[]][] = [
    ['random bytes', 'invalid-frame', 1002, () => garbage],
    ['an empty binary message', 'invalid-frame', 1002, () => []],
    [
      'an array16 header instead of a fixarray',
      'invalid-frame',
      1002,
      () => [0xdc, 0, 3, 0x05, 0x01, 0xc0],
    ],
    ['the byte 0xc1, which MessagePack never uses', 'malformed', 1007, () => message1(0xc1)],
    ['a truncated MESSAGE', 'malformed', 1007, () => truncated],
    [
      'an array32 header of 2^32 − 1 elements and nothing after',
      'malformed',
      1007,
      () => message1(0xdd, 0xff, 0xff, 0xff, 0xff),
    ],
    [
      'a map32 header of 2^32 − 1 entries',
      'malformed',
      1007,
      () => message1(0xdf, 0xff, 0xff, 0xff, 0xff),
    ],
    [
      'a str32 header of 4 GiB',
      'malformed',
      1007,
      () => message1(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61),
    ],
    [
      'arrays nested 200,000 deep',
      'malformed',
      1007,
      () => [...message1(), ...new Array(200_000).fill(0x91), 0xc0],
    ],
    ['an array as a map key', 'malformed', 1007, () => message1(0x81, 0x91, 0x01, 0x01)],
    [
      'a MESSAGE with one byte after it',
      'trailing-bytes',
      1007,
      () => [...encodeMessage(1, 'x'), 0xc0],
    ],
    ['frame type 9', 'unknown-frame-type', 1002, () => [...frameBytes([9, 1])]],
    ['frame type 0', 'unknown-frame-type', 1002, () => [...frameBytes([0])]],
    [
      'a string as the frame type',
      'unknown-frame-type',
      1002,
      () => [...frameBytes(['message', 1, 'x'])],
    ],
    ['a MESSAGE of 2 elements', 'invalid-frame', 1002, () => [...frameBytes([5, 1])]],
    ['a MESSAGE with seq 2^53', 'invalid-frame', 1002, () => [...frameBytes([5, 2 ** 53, 'x'])]],
    ['a PROBE with id 2^32', 'invalid-frame', 1002, () => [...frameBytes([3, 2 ** 32])]],
  ];

  it.each(cases)('%s (%s, %i)', async (_name, code, closeCode, bytes) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.welcome();
    peer.raw(bytes());
    await expectRefused(log, code, closeCode);
    expect(log.messages).toEqual([]);
  });

  it('garbage before the WELCOME (invalid-frame, 1002)', async () => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw(garbage);
    await expectRefused(log, 'invalid-frame', CloseCode.PROTOCOL_ERROR);
  });

  it('a WELCOME with bytes after it (trailing-bytes, 1007)', async () => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    await peer.hello();
    peer.raw([...frameBytes(welcomeElements()), 0x00]);
    await expectRefused(log, 'trailing-bytes', CloseCode.INVALID_PAYLOAD);
    expect(log.opens).toEqual([]);
  });

  it.each([
    ['before', false],
    ['after', true],
  ])('a text message %s the WELCOME (text-frame, 1003)', async (_when, welcomed) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    if (welcomed) await peer.welcome();
    else await peer.hello();
    peer.text('[5,1,"hi"]');
    await expectRefused(log, 'text-frame', CloseCode.UNSUPPORTED_DATA);
  });

  it('a frame of maxPayloadBytes is delivered, one byte more is refused (too-large, 1009)', async () => {
    const { log } = connect({ maxPayloadBytes: 1024 });
    const peer = await server.nextPeer(0);
    await peer.welcome();
    // [5, seq, str8 or str16]: pad the string until the frame is exactly 1024 bytes.
    const exact = (seq: number) => {
      const overhead = encodeMessage(seq, 'x'.repeat(300)).length - 300;
      return encodeMessage(seq, 'x'.repeat(1024 - overhead));
    };
    expect(exact(1)).toHaveLength(1024);
    peer.raw(exact(1));
    peer.raw([...exact(2), 0xc0]);
    await expectRefused(log, 'too-large', CloseCode.MESSAGE_TOO_BIG);
    expect(log.messages).toHaveLength(1);
  });
});

describe('a frame larger than maxPayloadBytes, announced by its header', () => {
  /** A binary WebSocket frame header (server to client: unmasked) for `length` payload bytes. */
  const header = (length: number) => {
    const out = Buffer.alloc(10);
    out[0] = 0x82;
    out[1] = 127;
    out.writeBigUInt64BE(BigInt(length), 2);
    return out;
  };

  // maxPayloadBytes is checked once the whole frame has arrived: `ws` is not told the limit,
  // so it buffers up to its own (100 MiB) first. PROTOCOL.md section 9 refuses such a frame
  // "before it is buffered".
  it.fails('64 MiB announced, 2 KiB sent: refused (1009) without waiting for the rest', async () => {
    const { log } = connect({ maxPayloadBytes: 1024 });
    const peer = await server.nextPeer(0);
    await peer.welcome();
    await waitFor(() => log.opens.length === 1);
    peer.tcp.write(Buffer.concat([header(64 << 20), Buffer.alloc(2048)]));
    await sleep(300);
    expect(log.closes[0]?.code).toBe(CloseCode.MESSAGE_TOO_BIG);
  });

  // Beyond its own limit `ws` refuses the frame itself and stops reading, so the client sees
  // 1006 (no close frame) and resumes, as after a dropped connection, instead of stopping.
  it.fails('1 TiB announced: final 1009, not a resume', async () => {
    const { log } = connect({ maxPayloadBytes: 1024 });
    const peer = await server.nextPeer(0);
    await peer.welcome();
    await waitFor(() => log.opens.length === 1);
    peer.tcp.write(header(2 ** 40));
    await sleep(200);
    expect(log.disconnects).toEqual([]);
    expect(log.closes[0]?.code).toBe(CloseCode.MESSAGE_TOO_BIG);
  });
});

describe('frames out of order or from the wrong side are refused (unexpected-frame, 1002)', () => {
  const cases: [string, boolean, () => Uint8Array][] = [
    ['a second WELCOME', true, () => frameBytes(welcomeElements())],
    [
      'a second WELCOME for another session',
      true,
      () => frameBytes(welcomeElements({ sessionId: 's2' })),
    ],
    ['a MESSAGE before the WELCOME', false, () => encodeMessage(1, 'early')],
    ['a PROBE before the WELCOME', false, () => frameBytes([3, 1])],
    ['an ACK before the WELCOME', false, () => frameBytes([6, 0])],
    ['a HELLO before the WELCOME', false, () => frameBytes([1, 1, null, null])],
    ['a HELLO after the WELCOME', true, () => frameBytes([1, 1, null, null])],
    ['a PROBE_ANSWER before the WELCOME', false, () => frameBytes([4, 1])],
    ['a PROBE_ANSWER after the WELCOME', true, () => frameBytes([4, 1, 0])],
  ];

  it.each(cases)('%s', async (_name, welcomed, bytes) => {
    const { log } = connect();
    const peer = await server.nextPeer(0);
    if (welcomed) await peer.welcome();
    else await peer.hello();
    peer.raw(bytes());
    await expectRefused(log, 'unexpected-frame', CloseCode.PROTOCOL_ERROR);
    expect(log.opens).toHaveLength(welcomed ? 1 : 0);
    expect(log.messages).toEqual([]);
    expect(log.lost).toEqual([]);
    // Nothing but the HELLO went out: no answer to a probe that came too early.
    expect(peer.frames.map((f) => f.type)).toEqual([FrameType.HELLO]);
  });
});

describe('a GOODBYE', () => {
  const bad: [string, unknown, unknown][] = [
    ['a reason of 200 bytes', 4503, 'r'.repeat(200)],
    ['a reason of 124 bytes', 4503, 'r'.repeat(124)],
    ['a reason of 62 characters, 124 UTF-8 bytes', 4503, 'é'.repeat(62)],
    ['code 4503.5', 4503.5, ''],
    ['code "4503" (a string)', '4503', ''],
    ['code nil', null, ''],
    ['code 999', 999, ''],
    ['code 5000', 5000, ''],
    ['code 2^53', 2 ** 53, ''],
  ];

  it.each(bad)(
    'with %s is refused (invalid-frame, 1002), not obeyed',
    async (_name, code, reason) => {
      const { log } = connect();
      const peer = await server.nextPeer(0);
      await peer.welcome();
      peer.raw(frameBytes([7, code, reason]));
      await expectRefused(log, 'invalid-frame', CloseCode.PROTOCOL_ERROR);
    },
  );
});

describe('handlers that throw while the client refuses a frame', () => {
  it("are reported once to 'error' or console.error, and nothing escapes", async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      client = new ProbeClient(server.url, quickOptions());
      client.on('error', () => {
        throw new Error('error handler fails');
      });
      client.on('close', () => {
        throw new Error('close handler fails');
      });
      client.on('state', () => {
        throw new Error('state handler fails');
      });
      const peer = await server.nextPeer(0);
      await peer.welcome();
      peer.raw(message1(0xd6, 0xff, 0, 0, 0, 0));
      await peer.waitClosed();
      await sleep(50);
      expect(client.state).toBe('closed');
      // The error handler's own exception is logged instead of the error it was given.
      expect(logged.mock.calls.map((call) => String(call[1]))).toContain(
        'Error: error handler fails',
      );
      expect(server.peers).toHaveLength(1);
    } finally {
      logged.mockRestore();
    }
  });
});
