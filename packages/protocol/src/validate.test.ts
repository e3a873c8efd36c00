import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFromServer, encodePayload } from './codec.js';
import { ProtocolError } from './errors.js';
import {
  MAX_PAYLOAD_RANGE,
  MAX_REASON_LENGTH,
  PROBE_MS_RANGE,
  utf8Length,
  validate,
  validateFromServer,
} from './validate.js';

function refusal(value: unknown): ProtocolError {
  try {
    validate(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error('expected the frame to be refused');
}

describe('WELCOME limits a hostile server cannot push past', () => {
  const fields = [2, 1, 's1', 't0k', 10_000, 5_000, 1_048_576, false, 0, 0];
  const welcomeWith = (index: number, value: number) =>
    fields.map((field, i) => (i === index ? value : field));
  const [minMs, maxMs] = PROBE_MS_RANGE;
  const [minPayload, maxPayload] = MAX_PAYLOAD_RANGE;

  // [field, index, accepted values, refused values]
  const table: [string, number, number[], number[]][] = [
    ['probeIntervalMs', 4, [10, 1_000, 3_600_000], [0, 9, 3_600_001, 2 ** 31, 2 ** 32 - 1]],
    ['probeTimeoutMs', 5, [10, 5_000, 3_600_000], [0, 9, 3_600_001, 2 ** 31, 2 ** 32 - 1]],
    ['maxPayloadBytes', 6, [64, 1_048_576, 2 ** 31 - 1], [0, 63, 2 ** 31, 2 ** 53 - 1]],
  ];

  it('the ranges are the documented ones', () => {
    expect([minMs, maxMs, minPayload, maxPayload]).toEqual([10, 3_600_000, 64, 2 ** 31 - 1]);
  });

  for (const [field, index, accepted, refused] of table) {
    it.each(accepted)(`accepts ${field} %d`, (value) => {
      expect(validateFromServer(welcomeWith(index, value))).toMatchObject({ [field]: value });
    });
    it.each(refused)(`refuses ${field} %d as invalid-frame, naming the field`, (value) => {
      const error = refusal(welcomeWith(index, value));
      expect(error.code).toBe('invalid-frame');
      expect(error.closeCode).toBe(1002);
      expect(error.message).toContain(`'welcome' requires an integer '${field}' from`);
    });
  }

  it('refuses them in the bytes a client receives, too', () => {
    const bytes = new Uint8Array(encodePayload(welcomeWith(4, 2 ** 32 - 1)).subarray(1));
    expect(() => decodeFromServer(bytes)).toThrow("'probeIntervalMs' from 10 to 3600000");
  });
});

describe('GOODBYE reasons are limited to 123 UTF-8 bytes, as a WebSocket close reason', () => {
  // [name, reason, UTF-8 bytes]
  const accepted: [string, string, number][] = [
    ['empty', '', 0],
    ['123 ASCII characters', 'r'.repeat(123), 123],
    ['61 × é (2 bytes each)', 'é'.repeat(61), 122],
    ['41 × € (3 bytes each)', '€'.repeat(41), 123],
    ['30 × 😀 (4 bytes each)', '😀'.repeat(30), 120],
    ['120 ASCII and a €', `${'a'.repeat(120)}€`, 123],
  ];
  const refused: [string, string, number][] = [
    ['124 ASCII characters', 'r'.repeat(124), 124],
    ['62 × é: 62 characters but 124 bytes', 'é'.repeat(62), 124],
    ['123 × é: 123 characters but 246 bytes', 'é'.repeat(123), 246],
    ['31 × 😀: 62 UTF-16 units but 124 bytes', '😀'.repeat(31), 124],
    ['121 ASCII and a €', `${'a'.repeat(121)}€`, 124],
    ['120 ASCII and a lone surrogate, sent as U+FFFD', `${'a'.repeat(121)}\ud800`, 124],
  ];

  it.each(accepted)('accepts %s', (_name, reason, bytes) => {
    expect(utf8Length(reason)).toBe(bytes);
    expect(validate([7, 1000, reason])).toMatchObject({ reason });
  });

  it.each(refused)('refuses %s', (_name, reason, bytes) => {
    expect(utf8Length(reason)).toBe(bytes);
    const error = refusal([7, 1000, reason]);
    expect(error.code).toBe('invalid-frame');
    expect(error.message).toBe(
      `'goodbye' requires a string 'reason' of at most ${MAX_REASON_LENGTH} UTF-8 bytes`,
    );
  });

  it('utf8Length agrees with Buffer.byteLength, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const text = `${a}\ud83d${b}\udc00`;
        expect(utf8Length(a)).toBe(Buffer.byteLength(a));
        expect(utf8Length(text)).toBe(Buffer.byteLength(text));
      }),
      { seed: 0x7574_6638, numRuns: 2_000 },
    );
  });
});
