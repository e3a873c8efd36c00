import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode, encodeMessage } from './codec.js';
import { FrameType } from './frames.js';

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
const ascii = (text: string) => [...new TextEncoder().encode(text)];

function expectPrototypesUntouched(): void {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
  expect(Object.getPrototypeOf(Object.prototype)).toBeNull();
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  expect({}.constructor).toBe(Object);
  expect(Object.getOwnPropertyNames(Array.prototype)).not.toContain('polluted');
}

function messageData(bytes: Uint8Array): Record<string, unknown> {
  const frame = decode(bytes);
  if (frame.type !== FrameType.MESSAGE) throw new Error(`expected a message, got ${frame.type}`);
  return frame.data as Record<string, unknown>;
}

afterEach(expectPrototypesUntouched);

describe('application data with __proto__, constructor and prototype keys', () => {
  // JSON.parse makes these own keys, unlike an object literal where __proto__ sets the prototype.
  const hostile = JSON.parse(
    '{"__proto__": {"polluted": "yes", "isAdmin": true},' +
      ' "constructor": {"prototype": {"polluted": "yes"}},' +
      ' "nested": [{"__proto__": {"polluted": "yes"}}, {"a": {"__proto__": {"isAdmin": true}}}]}',
  ) as Record<string, unknown>;

  it('the JSON.parse fixture really has own __proto__ keys', () => {
    expect(Object.hasOwn(hostile, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(hostile)).toBe(Object.prototype);
  });

  it('does not pollute Object.prototype, and the decoded object has a plain prototype', () => {
    const data = messageData(encodeMessage(1, hostile));
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.hasOwn(data, '__proto__')).toBe(false);
    expect(data.polluted).toBeUndefined();
    expect(data.isAdmin).toBeUndefined();
    // msgpackr keeps the value under a renamed key rather than dropping it.
    expect(data.__proto_).toEqual({ polluted: 'yes', isAdmin: true });
    // `constructor` is just an own data property of this one object.
    expect(Object.hasOwn(data, 'constructor')).toBe(true);
    expect(data.constructor).toEqual({ prototype: { polluted: 'yes' } });
    const nested = data.nested as Record<string, Record<string, unknown>>[];
    expect(Object.getPrototypeOf(nested[0])).toBe(Object.prototype);
    expect(nested[0]!.polluted).toBeUndefined();
    expect(nested[0]!.__proto_).toEqual({ polluted: 'yes' });
    expect(Object.getPrototypeOf(nested[1]!.a)).toBe(Object.prototype);
    expect(nested[1]!.a!.isAdmin).toBeUndefined();
  });

  it('does not pollute through HELLO auth either', () => {
    const frame = decode(
      encode({ type: FrameType.HELLO, version: 1, auth: hostile, resume: null }),
    );
    expect(frame.type).toBe(FrameType.HELLO);
    const auth = (frame as { auth: Record<string, unknown> }).auth;
    expect(Object.getPrototypeOf(auth)).toBe(Object.prototype);
    expect(auth.polluted).toBeUndefined();
  });

  // Hand-written MessagePack: [5, 1, {"__proto__": {"polluted": true}}] with the key spelled in
  // each string format and the map in each map format msgpackr reads through a different path.
  const key = ascii('__proto__');
  const value = [0x81, 0xa8, ...ascii('polluted'), 0xc3];
  // Frames under 180 bytes read map keys through msgpackr's key cache, longer ones do not.
  const padding = [0xd9, 200, ...new Array(200).fill(0x78)];
  const cases: [string, number[]][] = [
    ['fixmap, fixstr key', [0x93, 0x05, 0x01, 0x81, 0xa9, ...key, ...value]],
    ['fixmap, str8 key', [0x93, 0x05, 0x01, 0x81, 0xd9, 0x09, ...key, ...value]],
    ['fixmap, str16 key', [0x93, 0x05, 0x01, 0x81, 0xda, 0x00, 0x09, ...key, ...value]],
    ['map16, fixstr key', [0x93, 0x05, 0x01, 0xde, 0x00, 0x01, 0xa9, ...key, ...value]],
    ['map32, fixstr key', [0x93, 0x05, 0x01, 0xdf, 0x00, 0x00, 0x00, 0x01, 0xa9, ...key, ...value]],
    [
      'fixmap in a frame over 180 bytes',
      [0x93, 0x05, 0x01, 0x82, 0xa1, 0x70, ...padding, 0xa9, ...key, ...value],
    ],
  ];
  it.each(cases)('raw bytes: %s', (name, bytes) => {
    expect(bytes.length < 180).toBe(!name.includes('over 180'));
    const data = messageData(new Uint8Array(bytes));
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(Object.hasOwn(data, '__proto__')).toBe(false);
    expect(data.polluted).toBeUndefined();
    expect(data.__proto_).toEqual({ polluted: true });
  });

  it('a second decode of the same bytes (warm key cache) is just as safe', () => {
    const bytes = new Uint8Array(cases[0]![1]);
    messageData(bytes);
    const data = messageData(bytes);
    expect(data.polluted).toBeUndefined();
    expect(data.__proto_).toEqual({ polluted: true });
  });

  it('arbitrary objects with prototype-ish keys never pollute', () => {
    // fast-check's string generator favours keys such as __proto__, constructor and toString.
    fc.assert(
      fc.property(fc.object({ maxDepth: 3 }), (object) => {
        const data = messageData(encodeMessage(1, object));
        if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
          expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
          expect(Object.hasOwn(data, '__proto__')).toBe(false);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(prototypeNames.length);
      }),
      { seed: 0x7072_6f62, numRuns: 500 },
    );
  });
});
