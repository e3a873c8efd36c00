/**
 * Validation of what clients send. Payloads from the wire are untrusted whatever the schema
 * says: every field is checked by type and length before use, never converted, and an error
 * names a bad value by its kind or its cleaned, bounded form only.
 */

import { cleanName, kindOf, MAX_RAW_NAME_LENGTH, MAX_ROOM_LENGTH } from './names.js';
import {
  type JoinRequest,
  MAX_CID_LENGTH,
  MAX_TEXT_LENGTH,
  type Post,
  ROOMS,
  type RoomName,
  type Typing,
} from './schema.js';

export function isRoom(value: unknown): value is RoomName {
  return typeof value === 'string' && (ROOMS as readonly string[]).includes(value);
}

export function isAuthorKey(value: unknown): value is string {
  return typeof value === 'string' && /^[\w-]{16,128}$/.test(value);
}

/**
 * Client message ids: letters, digits, `_` and `-`. They are broadcast with the message, so
 * nothing in them may render oddly.
 */
export function isCid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CID_LENGTH && /^[\w-]+$/.test(value);
}

/** The id of an incoming payload if it has a well-formed one, else `''` (for refusals). */
export function cidOf(data: unknown): string {
  const cid = typeof data === 'object' && data !== null ? (data as { cid?: unknown }).cid : '';
  return isCid(cid) ? cid : '';
}

/** The fields of an object payload, or null for anything else (arrays included). */
function fieldsOf(data: unknown): Record<string, unknown> | null {
  return typeof data === 'object' && data !== null && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : null;
}

const NOT_AN_OBJECT = 'the payload must be an object';

function parseRoom(value: unknown): RoomName | string {
  if (typeof value !== 'string') return `'room' must be a string, got ${kindOf(value)}`;
  if (value.length > MAX_RAW_NAME_LENGTH) return `'room' is too long (${value.length} characters)`;
  const room = cleanName(value, MAX_ROOM_LENGTH);
  return isRoom(room) ? room : `unknown room '${room}'`;
}

/**
 * Validates a `join` request.
 * @returns the request, or a sentence naming what is wrong.
 */
export function parseJoin(data: unknown): JoinRequest | string {
  const fields = fieldsOf(data);
  if (!fields) return NOT_AN_OBJECT;
  const room = parseRoom(fields.room);
  return isRoom(room) ? { room } : room;
}

/**
 * Validates a `typing` event.
 * @returns the event, or a sentence naming what is wrong.
 */
export function parseTyping(data: unknown): Typing | string {
  return parseJoin(data);
}

/**
 * Validates a `post` event; the text is trimmed.
 * @returns the post, or a sentence naming what is wrong.
 */
export function parsePost(data: unknown): Post | string {
  const fields = fieldsOf(data);
  if (!fields) return NOT_AN_OBJECT;
  const room = parseRoom(fields.room);
  if (!isRoom(room)) return room;
  if (!isCid(fields.cid)) {
    return `'post' requires a 'cid' of 1–${MAX_CID_LENGTH} letters, digits, '_' or '-'`;
  }
  if (typeof fields.text !== 'string') return `'text' must be a string, got ${kindOf(fields.text)}`;
  const text = fields.text.trim();
  if (text.length === 0) return 'empty message';
  if (text.length > MAX_TEXT_LENGTH) return `message longer than ${MAX_TEXT_LENGTH} characters`;
  return { room, cid: fields.cid, text };
}
