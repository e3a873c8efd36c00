import { describe, expect, it } from 'vitest';
import { decode, encode } from './codec.js';
import type { Exchange, ExchangeFile, Step } from './conformance/format.js';
import { jsonToFrame } from './conformance/json-frame.js';
import { runExchange } from './conformance/runner.js';
import type { Connect, ExchangeSocket, SocketEvent } from './conformance/socket.js';
import { VectorError } from './conformance/values.js';
import { type Frame, FrameType, ReplyKind } from './frames.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// The runner against a scripted server: what makes an exchange pass, and what makes it fail
// with a sentence that names the step.

type Reply = (frame: Frame) => (Frame | { close: number; reason?: string })[];

/** A socket whose server answers each frame sent with what `reply` returns. */
class ScriptedSocket implements ExchangeSocket {
  readonly #events: SocketEvent[] = [];
  #closed: SocketEvent | null = null;

  constructor(private readonly reply: Reply) {}

  send(data: Uint8Array | string): void {
    if (typeof data === 'string') {
      this.#close(1003, 'text');
      return;
    }
    for (const answer of this.reply(decode(data))) {
      if ('close' in answer) this.#close(answer.close, answer.reason ?? '');
      else this.#events.push({ kind: 'message', data: encode(answer) });
    }
  }

  async next(): Promise<SocketEvent | null> {
    return this.#events.shift() ?? this.#closed;
  }

  close(code: number, reason: string): void {
    this.#close(code, reason);
  }

  terminate(): void {
    this.#close(1006, '');
  }

  #close(code: number, reason: string): void {
    this.#closed ??= { kind: 'close', code, reason };
    this.#events.push(this.#closed);
  }
}

const welcome: Frame = {
  type: FrameType.WELCOME,
  version: 1,
  sessionId: 's1',
  token: 't0k',
  probeIntervalMs: 10_000,
  probeTimeoutMs: 5_000,
  maxPayloadBytes: 1024,
  resumed: false,
  lastSeq: 0,
  sentSeq: 0,
};
const probe: Frame = { type: FrameType.PROBE, id: 1 };
const ack = (seq: number): Frame => ({ type: FrameType.ACK, seq });

/** Welcomes a hello; answers a message with `onMessage`. */
function server(onMessage: Reply = () => []): Reply {
  return (frame) => (frame.type === FrameType.HELLO ? [probe, welcome] : onMessage(frame));
}

const file: ExchangeFile = { parameters: { waitMs: { default: 1 } }, exchanges: [] };
const hello: Step = { send: { type: 'hello', version: 1, auth: null, resume: null } };

async function run(reply: Reply, steps: Step[], connect?: Connect) {
  const opens = steps[0] !== undefined && 'connect' in steps[0];
  const exchange: Exchange = {
    name: 'scripted',
    steps: opens ? steps : [{ connect: {} }, ...steps],
  };
  return runExchange(file, exchange, {
    url: 'ws://127.0.0.1:1/',
    connect: connect ?? (async () => ({ socket: new ScriptedSocket(reply), headers: {} })),
    stepTimeoutMs: 50,
  });
}

describe('the exchange runner', () => {
  it('passes when every step goes as written, binding and using variables', async () => {
    const echoToken = server((frame) =>
      frame.type === FrameType.MESSAGE ? [{ ...frame, seq: 1 }, ack(1)] : [],
    );
    const result = await run(echoToken, [
      hello,
      { expect: { type: 'welcome', resumed: false }, bind: { token: 'token' } },
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the interpolation of the vectors
      { send: { type: 'message', seq: 1, data: { token: '$token', id: 'id-${token}' } } },
      { expect: { type: 'message', data: { token: 't0k', id: 'id-t0k' } } },
      { expect: { type: 'ack', seq: { $type: 'integer' } } },
      { wait: '$waitMs' },
    ]);
    expect(result).toMatchObject({ status: 'passed' });
  });

  it('fails on a field that differs, naming the step, the field and both values', async () => {
    const result = await run(server(), [hello, { expect: { type: 'welcome', resumed: true } }]);
    expect(result.status).toBe('failed');
    expect(result.detail).toBe(
      "step 3 (expect welcome): welcome 'resumed' is false, expected true",
    );
  });

  it('passes over probes only, unless told otherwise', async () => {
    const acks = server(() => [ack(1), ack(3)]);
    const message: Step = { send: { type: 'message', seq: 1, data: null } };
    const strict = await run(acks, [
      hello,
      { expect: { type: 'welcome' } },
      message,
      { expect: { type: 'ack', seq: 3 } },
    ]);
    expect(strict.detail).toBe("step 5 (expect ack): ack 'seq' is 1, expected 3");
    const untilMatch = await run(acks, [
      hello,
      { expect: { type: 'welcome' } },
      message,
      { expect: { type: 'ack', seq: 3 }, untilMatch: true },
    ]);
    expect(untilMatch.status).toBe('passed');
    const noSkip = await run(acks, [hello, { expect: { type: 'welcome' }, skip: [] }]);
    expect(noSkip.detail).toBe('step 3 (expect welcome): got probe {"id":1}, expected welcome');
  });

  it('checks a close and the code of a goodbye before it', async () => {
    const refuse =
      (code: number): Reply =>
      () => [
        { type: FrameType.GOODBYE, code, reason: 'no' },
        { close: 4010, reason: 'no' },
      ];
    const close: Step = { expectClose: { code: 4010, reason: 'no' } };
    expect(await run(refuse(4010), [hello, close])).toMatchObject({ status: 'passed' });
    expect((await run(refuse(4011), [hello, close])).detail).toBe(
      'step 3 (expect close 4010): got goodbye {"code":4011,"reason":"no"} before the close, expected code 4010',
    );
    expect((await run(refuse(4010), [hello, { expectClose: { code: 4011 } }])).detail).toBe(
      'step 3 (expect close 4011): got goodbye {"code":4010,"reason":"no"} before the close, expected code 4011',
    );
  });

  it('fails when nothing comes in time, and when a closed connection was expected to talk', async () => {
    const silent = await run(() => [], [hello, { expect: { type: 'welcome' } }]);
    expect(silent.detail).toBe('step 3 (expect welcome): no matching welcome within 50 ms');
    const closed = await run(() => [{ close: 1002 }], [hello, { expect: { type: 'welcome' } }]);
    expect(closed.detail).toBe('step 3 (expect welcome): closed with 1002 "", expected welcome');
  });

  it('checks the HTTP status of a refused upgrade', async () => {
    const refusing: Connect = async () => ({ status: 403 });
    const steps: Step[] = [{ connect: { refused: 403 } }];
    expect(await run(server(), steps, refusing)).toMatchObject({ status: 'passed' });
    expect((await run(server(), [], refusing)).detail).toBe(
      'step 1 (connect): the upgrade got HTTP 403, expected an upgrade',
    );
  });

  it('rejects a mistake in the vectors instead of failing the server', async () => {
    await expect(run(server(), [{ send: { type: 'ack', seq: '$nowhere' } }])).rejects.toThrow(
      VectorError,
    );
    await expect(run(server(), [{ send: { type: 'ack', seq: 1, extra: 1 } }])).rejects.toThrow(
      "ack: extra 'extra'",
    );
  });

  it('builds frames from JSON descriptions as the codec takes them', () => {
    expect(jsonToFrame({ type: 'probe-answer', id: 7 })).toEqual({
      type: FrameType.PROBE_ANSWER,
      id: 7,
      ack: null,
    });
    expect(() =>
      jsonToFrame({ type: 'hello', version: 1, auth: null, resume: { sessionId: 's' } }),
    ).toThrow("'resume' must be null or have exactly");
  });

  it('builds messages with the optional fields given, in order, and no others', () => {
    const message = { type: 'message', seq: 2, data: 'ping' } as const;
    expect(jsonToFrame(message)).toStrictEqual({ type: FrameType.MESSAGE, seq: 2, data: 'ping' });
    expect(jsonToFrame({ ...message, event: null, call: 1 })).toStrictEqual({
      type: FrameType.MESSAGE,
      seq: 2,
      data: 'ping',
      event: null,
      call: 1,
    });
    expect(hex(encode(jsonToFrame({ ...message, event: null, call: 1, reply: 2 })))).toBe(
      '960502a470696e67c00102',
    );
    expect(() => jsonToFrame({ ...message, call: 1 })).toThrow(
      "message: missing 'event' (before a later optional field)",
    );
    expect(() => jsonToFrame({ ...message, event: 'chat', reply: 1 })).toThrow(
      "message: missing 'call' (before a later optional field)",
    );
  });

  it('sends requests and matches replies; an optional field a frame leaves out reads as null', async () => {
    const answering = server((frame) => {
      if (frame.type !== FrameType.MESSAGE) return [];
      if (frame.call == null) return [{ ...frame, seq: 1 }, ack(frame.seq)];
      const reply = { event: null, call: frame.call, reply: ReplyKind.OK };
      return [{ type: FrameType.MESSAGE, seq: 1, data: 'pong', ...reply }, ack(frame.seq)];
    });
    const result = await run(answering, [
      hello,
      { expect: { type: 'welcome' } },
      { send: { type: 'message', seq: 1, data: 'ping', event: 'user:get', call: 7 } },
      {
        expect: { type: 'message', data: 'pong', event: null, call: 7, reply: 1 },
        bind: { call: 'call' },
      },
      { expect: { type: 'ack', seq: 1 } },
      { send: { type: 'message', seq: 2, data: '$call' } },
      { expect: { type: 'message', data: 7, event: null, call: null, reply: null } },
    ]);
    expect(result).toMatchObject({ status: 'passed' });
    const named = await run(answering, [
      hello,
      { expect: { type: 'welcome' } },
      { send: { type: 'message', seq: 1, data: 'hi', event: 'chat' } },
      { expect: { type: 'message', event: null } },
    ]);
    expect(named.detail).toBe(`step 5 (expect message): message 'event' is "chat", expected null`);
  });
});
