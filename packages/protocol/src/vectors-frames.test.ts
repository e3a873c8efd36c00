import { readFileSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CloseCode, closeCodeName, endsSession, isRetryableClose } from './close-codes.js';
import { decode, decodeFromClient, decodeFromServer, encode, encodeMessage } from './codec.js';
import {
  bytesToHex,
  FRAME_FIELDS,
  FRAME_OPTIONAL,
  FRAME_TYPES,
  type FrameName,
  frameToJson,
  fromJson,
  hexToBytes,
  type Json,
  type JsonFrame,
  jsonToFrame,
  RESUME_FIELDS,
  toJson,
} from './conformance/json-frame.js';
import { Delivery } from './delivery.js';
import { ProtocolError, type ProtocolErrorCode, ProtocolErrorCodes } from './errors.js';
import { MAX_EVENT_LENGTH, RESERVED_EVENTS } from './validate.js';

// vectors/frames.json is data: it was written once by the encoder and is compared with it here,
// so a change to the wire format shows up as a failing vector (and a diff, once regenerated).

type Next = 'resume' | 'fresh-session' | 'final';
type State = { sentSeq?: number; ackedSeq?: number; lastSeq?: number };
type Outcome = { result?: Record<string, Json>; error?: ProtocolErrorCode; closeCode?: number };

interface FramesFile {
  protocolVersion: number;
  frameTypes: Record<
    FrameName,
    { type: number; sender: string; fields: string[]; optional?: string[] }
  >;
  resumeFields: string[];
  maxEventBytes: number;
  reservedEvents: string[];
  errorCodes: Record<string, number>;
  closeCodes: { code: number; name: string; next: Next }[];
  otherCloseCodes: { code: number; next: Next }[];
  valid: { name: string; hex: string; frame: JsonFrame; canonical?: false }[];
  invalid: {
    name: string;
    hex?: string;
    text?: string;
    receiver?: 'client' | 'server';
    maxPayloadBytes?: number;
    dependsOnOrder?: true;
    error: ProtocolErrorCode;
    closeCode: number;
  }[];
  sequence: ({ name: string; state: State } & Outcome &
    ({ message: number } | { ack: number } | { peer: { lastSeq: number; sentSeq: number } }))[];
}

const vectors = JSON.parse(
  readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'),
) as FramesFile;
const raw = new Packr({ useRecords: false, structuredClone: false, int64AsType: 'number' });
const hexOf = (text: string) => text.replace(/\s+/g, '');

describe('frames.json: layout', () => {
  it('names the frame types and fields the codec uses, in wire order', () => {
    for (const [name, layout] of Object.entries(vectors.frameTypes)) {
      expect([name, layout.type, layout.fields, layout.optional ?? []]).toEqual([
        name,
        FRAME_TYPES[name as FrameName],
        FRAME_FIELDS[name as FrameName],
        FRAME_OPTIONAL[name as FrameName],
      ]);
      // Optional fields are the trailing ones.
      expect(layout.fields.slice(layout.fields.length - (layout.optional?.length ?? 0))).toEqual(
        layout.optional ?? [],
      );
    }
    expect(Object.keys(vectors.frameTypes).sort()).toEqual(Object.keys(FRAME_TYPES).sort());
    expect(vectors.resumeFields).toEqual(RESUME_FIELDS);
  });

  it('lists the reserved event names and the longest event name the validator uses', () => {
    expect(vectors.reservedEvents).toEqual(RESERVED_EVENTS);
    expect(vectors.maxEventBytes).toBe(MAX_EVENT_LENGTH);
  });

  it.each(vectors.valid)('element order of $name', ({ hex, frame }) => {
    const array = raw.unpack(hexToBytes(hex)) as unknown[];
    const layout = vectors.frameTypes[frame.type];
    expect(array[0]).toBe(layout.type);
    // The bytes hold exactly the fields the JSON lists: an optional field left out of one is
    // left out of the other.
    const listed = layout.fields.filter((field) => field in frame);
    expect(listed).toEqual(layout.fields.slice(0, listed.length));
    expect(array).toHaveLength(listed.length + 1);
    listed.forEach((field, i) => {
      const expected = frame[field] as Json;
      const element = array[i + 1];
      if (field === 'resume' && Array.isArray(element)) {
        const resume = expected as Record<string, Json>;
        expect(element).toEqual(vectors.resumeFields.map((name) => resume[name]));
      } else {
        expect(toJson(element)).toEqual(expected);
      }
    });
  });
});

describe('frames.json: valid frames', () => {
  const canonical = vectors.valid.filter((vector) => vector.canonical !== false);
  const accepted = vectors.valid.filter((vector) => vector.canonical === false);

  it.each(canonical)('the encoder writes $name as $hex', ({ hex, frame }) => {
    expect(bytesToHex(encode(jsonToFrame(frame)))).toBe(hexOf(hex));
  });

  it.each(vectors.valid)('the decoders read $hex as $name', ({ hex, frame }) => {
    const bytes = hexToBytes(hex);
    expect(frameToJson(decode(bytes))).toEqual(frame);
    const sender = vectors.frameTypes[frame.type].sender;
    if (sender !== 'server') expect(frameToJson(decodeFromClient(bytes))).toEqual(frame);
    if (sender !== 'client') expect(frameToJson(decodeFromServer(bytes))).toEqual(frame);
  });

  it('non-canonical encodings are not what the encoder writes', () => {
    expect(accepted.length).toBeGreaterThan(0);
    for (const { hex, frame } of accepted) {
      expect(bytesToHex(encode(jsonToFrame(frame)))).not.toBe(hexOf(hex));
    }
  });

  it('covers every frame type', () => {
    expect(new Set(canonical.map(({ frame }) => frame.type))).toEqual(
      new Set(Object.keys(FRAME_TYPES)),
    );
  });

  it('has a goodbye for every close code a server sends', () => {
    const local = [CloseCode.ABNORMAL, CloseCode.CONNECT_TIMEOUT, CloseCode.PROBE_TIMEOUT];
    const unused = [
      CloseCode.GOING_AWAY,
      CloseCode.POLICY_VIOLATION,
      CloseCode.MESSAGE_TOO_BIG,
      CloseCode.SERVICE_RESTART,
      CloseCode.FORBIDDEN_ORIGIN,
    ];
    const codes = new Set(
      vectors.valid.flatMap(({ frame }) => (frame.type === 'goodbye' ? [frame.code] : [])),
    );
    const missing = Object.values(CloseCode).filter(
      (code) => !codes.has(code) && !(local as number[]).includes(code),
    );
    expect(missing.sort()).toEqual((unused as number[]).sort());
  });
});

describe('frames.json: invalid frames', () => {
  it('lists the error codes of ProtocolError with their close codes', () => {
    expect(vectors.errorCodes).toEqual(ProtocolErrorCodes);
  });

  it('covers every error code', () => {
    const covered = new Set([
      ...vectors.invalid.map((vector) => vector.error),
      ...vectors.sequence.flatMap((vector) => (vector.error ? [vector.error] : [])),
    ]);
    expect([...covered].sort()).toEqual(Object.keys(ProtocolErrorCodes).sort());
  });

  it.each(vectors.invalid)('$name: $error ($closeCode)', (vector) => {
    const input = vector.text ?? hexToBytes(vector.hex ?? '');
    const read =
      vector.receiver === 'client'
        ? decodeFromServer
        : vector.receiver === 'server'
          ? decodeFromClient
          : decode;
    let thrown: unknown;
    try {
      read(input, vector.maxPayloadBytes);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtocolError);
    const { code, closeCode } = thrown as ProtocolError;
    expect({ code, closeCode }).toEqual({ code: vector.error, closeCode: vector.closeCode });
  });
});

describe('frames.json: sequence numbers, acks and resume checks', () => {
  function delivery(state: State): Delivery {
    const d = new Delivery({ maxMessages: 1e6, maxBytes: 1e9, highWaterMarkBytes: 1e9 });
    for (let seq = 1; seq <= (state.sentSeq ?? 0); seq++) d.push(encodeMessage(seq, null));
    d.acknowledge(state.ackedSeq ?? 0);
    d.inbound.lastSeq = state.lastSeq ?? 0;
    return d;
  }
  const ackedSeq = (d: Delivery) => d.outbound.lastSeq - d.outbound.size;

  it.each(vectors.sequence)('$name', (vector) => {
    const d = delivery(vector.state);
    const run = (): Record<string, Json> => {
      if ('message' in vector) {
        return { deliver: d.receive(vector.message), lastSeq: d.inbound.lastSeq };
      }
      if ('ack' in vector) {
        d.acknowledge(vector.ack);
        return { ackedSeq: ackedSeq(d) };
      }
      const { lastSeq, sentSeq } = vector.peer;
      const peerReplays = sentSeq - d.inbound.lastSeq;
      const replay = d.resume(lastSeq, sentSeq).map((frame) => {
        const message = decode(frame);
        return message.type === 5 ? message.seq : -1;
      });
      return { replay, ackedSeq: ackedSeq(d), peerReplays };
    };
    if (vector.error === undefined) {
      expect(run()).toEqual(vector.result);
      return;
    }
    expect(run).toThrow(ProtocolError);
    try {
      run();
    } catch (error) {
      const { code, closeCode } = error as ProtocolError;
      expect({ code, closeCode }).toEqual({ code: vector.error, closeCode: vector.closeCode });
    }
  });
});

describe('frames.json: close codes', () => {
  const next = (code: number): Next =>
    !isRetryableClose(code) ? 'final' : endsSession(code) ? 'fresh-session' : 'resume';

  it('lists every named close code', () => {
    expect(vectors.closeCodes.map(({ name, code }) => [name, code])).toEqual(
      Object.entries(CloseCode),
    );
  });

  it.each(vectors.closeCodes)('$code $name: $next', ({ code, name, next: then }) => {
    expect([closeCodeName(code), next(code)]).toEqual([name, then]);
  });

  it.each(vectors.otherCloseCodes)('$code (not named): $next', ({ code, next: then }) => {
    expect(next(code)).toBe(then);
  });
});

describe('PROTOCOL.md', () => {
  const text = readFileSync(new URL('../PROTOCOL.md', import.meta.url), 'utf8');

  it('has a row for every close code and every error code', () => {
    for (const [name, code] of Object.entries(CloseCode)) {
      expect(text).toMatch(new RegExp(`\\| ${code} +\\| ${name} +\\|`));
    }
    for (const [code, closeCode] of Object.entries(ProtocolErrorCodes)) {
      expect(text).toMatch(new RegExp(`\\| \`${code}\` +\\| ${closeCode} +\\|`));
    }
  });
});

// `fromJson` is the inverse of `toJson` for every value in the vectors.
it('frames.json values survive JSON → value → JSON', () => {
  for (const { frame } of vectors.valid) {
    for (const value of Object.values(frame)) expect(toJson(fromJson(value))).toEqual(value);
  }
});
