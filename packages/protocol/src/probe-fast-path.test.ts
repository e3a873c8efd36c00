import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodeProbe, encodeProbeAnswer, probeAnswerId } from './codec.js';
import { FrameType } from './frames.js';

describe('probe fast paths', () => {
  it('encodeProbe is byte-identical to the generic encoder for every id width', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (id) => {
        const generic = encode({ type: FrameType.PROBE, id });
        expect(Buffer.from(encodeProbe(id))).toEqual(Buffer.from(generic));
        expect(decode(encodeProbe(id))).toEqual({ type: FrameType.PROBE, id });
      }),
      { seed: 7, numRuns: 2000 },
    );
    for (const id of [0, 127, 128, 255, 256, 65535, 65536, 0xffff_ffff]) {
      expect(Buffer.from(encodeProbe(id))).toEqual(
        Buffer.from(encode({ type: FrameType.PROBE, id })),
      );
    }
  });

  it('probeAnswerId reads exactly what the full decoder reads, and nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (id) => {
        expect(probeAnswerId(encodeProbeAnswer(id, null))).toBe(id);
        expect(probeAnswerId(encodeProbeAnswer(id, 5))).toBe(-1); // with an ack: full path
      }),
      { seed: 11, numRuns: 2000 },
    );
    // Arbitrary bytes: whenever the fast path answers, the full decoder agrees.
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 9 }), (tail) => {
        const bytes = new Uint8Array([0x92, 0x04, ...tail]);
        const id = probeAnswerId(bytes);
        if (id < 0) return;
        expect(decode(bytes)).toEqual({ type: FrameType.PROBE_ANSWER, id, ack: null });
      }),
      { seed: 13, numRuns: 20_000 },
    );
    expect(probeAnswerId(new Uint8Array([0x92, 0x04, 0x05, 0x00]))).toBe(-1); // trailing byte
    expect(probeAnswerId(new Uint8Array([0x92, 0x03, 0x05]))).toBe(-1); // a probe, not an answer
    expect(probeAnswerId(new Uint8Array([0x92, 0x04]))).toBe(-1); // truncated
  });
});
