import {
  decodeMessageData,
  type EncodedPayload,
  encodeMessageWithPayload,
  encodePayload,
} from '@probe/protocol';
import type { SessionRecord } from '@probe/server';

/** Hash fields of a session record, in the order {@link decodeRecord} reads them. */
export const FIELDS = [
  'd',
  'th',
  'pth',
  'in',
  'out',
  'ack',
  'rooms',
  'own',
  'ep',
  'held',
  'ct',
  'rc',
  'v',
  'rd',
];

/** The record as hash field/value pairs; `data` as MessagePack (plain data only). */
export function encodeRecord(record: SessionRecord): (string | Buffer)[] {
  return [
    'd',
    Buffer.from(encodePayload(record.data)),
    'th',
    record.tokenHash ?? '',
    'pth',
    record.pendingTokenHash ?? '',
    'in',
    String(record.inSeq),
    'out',
    String(record.outSeq),
    'ack',
    String(record.ackedSeq),
    'rooms',
    JSON.stringify(record.rooms),
    'own',
    record.owner,
    'ep',
    String(record.epoch),
    'v',
    String(record.version),
    'rd',
    String(record.redeliverUpTo),
    'held',
    record.held ? '1' : '0',
    'ct',
    String(record.createdAt),
    'rc',
    cursorsJson(record.roomCursors),
  ];
}

/** Room cursors as a JSON object (never `[]`: Lua's cjson reads both as an empty table). */
export function cursorsJson(cursors: Record<string, string>): string {
  return JSON.stringify(cursors);
}

/** The record from HMGET of {@link FIELDS}; null when the hash does not exist. */
export function decodeRecord(id: string, values: (Buffer | null)[]): SessionRecord | null {
  const [d, th, pth, inSeq, out, ack, rooms, own, ep, held, ct, rc, v, rd] = values;
  if (!d || !ep) return null;
  const text = (value: Buffer | null | undefined) => value?.toString('utf8') ?? '';
  return {
    id,
    data: decodeData(d),
    tokenHash: text(th) || null,
    pendingTokenHash: text(pth) || null,
    inSeq: Number(text(inSeq)),
    outSeq: Number(text(out)),
    ackedSeq: Number(text(ack)),
    rooms: JSON.parse(text(rooms) || '[]') as string[],
    owner: text(own),
    epoch: Number(text(ep)),
    version: Number(text(v) || '0'),
    redeliverUpTo: Number(text(rd) || '0'),
    held: text(held) === '1',
    createdAt: Number(text(ct)),
    roomCursors: parseCursors(text(rc)),
  };
}

function parseCursors(json: string): Record<string, string> {
  // Lua's cjson writes an empty table as `{}`; anything but an object is no cursors.
  const value: unknown = JSON.parse(json || '{}');
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, string>)
    : {};
}

function decodeData(bytes: Buffer): unknown {
  // The data was encoded with the wire encoder; frame it as a message to read it back with
  // the same decoder (and the same plain-data rules) the wire uses.
  const payload = new Uint8Array(bytes) as unknown as EncodedPayload;
  return decodeMessageData(encodeMessageWithPayload(0, payload));
}
