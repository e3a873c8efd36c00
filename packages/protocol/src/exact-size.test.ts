import { describe, expect, it } from 'vitest';
import {
  encode,
  encodeAck,
  encodeGoodbye,
  encodeHello,
  encodeMessage,
  encodeMessageWithPayload,
  encodePayload,
  encodeProbe,
  encodeProbeAnswer,
} from './codec.js';
import { FrameType } from './frames.js';

// Frames wait in replay buffers and client send queues until acked. Each must own exactly its
// bytes: a view into a shared encoder buffer would keep all of that buffer alive with it.

const welcome = {
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
} as const;

const encoders: [string, () => Uint8Array][] = [
  ['encode(WELCOME)', () => encode(welcome)],
  ['encode(MESSAGE)', () => encode({ type: FrameType.MESSAGE, seq: 2, data: 'x' })],
  ['encodeHello', () => encodeHello(1, { token: 'abc' }, null)],
  ['encodeGoodbye', () => encodeGoodbye(1000, 'bye')],
  ['encodeProbe', () => encodeProbe(7)],
  ['encodeProbeAnswer', () => encodeProbeAnswer(7, 3)],
  ['encodeAck', () => encodeAck(300)],
  ['encodeMessage (what the client queues)', () => encodeMessage(1, 'hi')],
  ['encodePayload', () => encodePayload({ text: 'hi' })],
  ['encodeMessageWithPayload', () => encodeMessageWithPayload(9, encodePayload('hi'))],
];

function expectExactSize(bytes: Uint8Array): void {
  expect(bytes.byteOffset).toBe(0);
  expect(bytes.buffer.byteLength).toBe(bytes.byteLength);
}

describe('every encoder returns bytes that own an exact-size buffer', () => {
  it.each(encoders)('%s', (_name, encodeOne) => {
    expectExactSize(encodeOne());
  });

  it.each(encoders)('%s, after a 1 MB message was encoded', (_name, encodeOne) => {
    expectExactSize(encodeMessage(1, 'x'.repeat(1_000_000)));
    expectExactSize(encodePayload(new Uint8Array(1_000_000)));
    const frames = Array.from({ length: 100 }, encodeOne);
    for (const frame of frames) expectExactSize(frame);
  });

  // The encoder reuses its scratch bytes from one frame to the next; frames are copied out first.
  it('a later encode never changes the bytes of an earlier frame', () => {
    const first = encodeMessage(1, { text: 'first' });
    const copy = Buffer.from(first);
    for (let i = 0; i < 5_000; i++) encodeMessage(i + 2, { text: 'x'.repeat(i % 50) });
    encodeMessage(9, 'y'.repeat(500_000));
    encodeAck(1);
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });
});
