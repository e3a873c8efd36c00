import { describe, expect, it } from 'vitest';
import { encodeMessage, encodePayload } from './codec.js';
import { ProbeError } from './probe-error.js';

describe('encoding values MessagePack cannot hold', () => {
  for (const [name, value] of [
    ['a symbol', Symbol('x')],
    ['a BigInt wider than 64 bits', 2n ** 70n],
  ] as const) {
    it(`throws ProbeError('unencodable') for ${name}`, () => {
      for (const encode of [() => encodeMessage(1, { value }), () => encodePayload({ value })]) {
        let error: unknown;
        try {
          encode();
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ProbeError);
        expect(error).toMatchObject({ code: 'unencodable' });
      }
    });
  }
});
