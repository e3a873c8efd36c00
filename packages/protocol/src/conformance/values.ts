/**
 * Values in exchange steps: `"$name"` stands for a variable, `"${name}"` inside a string is
 * replaced by its value, `{"$bin": "<hex>"}` is bytes, and in an `expect` a field may be a
 * matcher (`{"$ne": value}`, `{"$type": "string"}`) instead of a value.
 */
import type { NumberExpression } from './format.js';
import { hexToBytes, type Json, toJson } from './json-frame.js';

export type Variables = Map<string, unknown>;

/** Thrown for a mistake in a vector file (as opposed to a server that fails an exchange). */
export class VectorError extends Error {
  override readonly name = 'VectorError';
}

function variable(name: string, vars: Variables): unknown {
  if (!vars.has(name)) throw new VectorError(`variable '${name}' is not bound`);
  return vars.get(name);
}

/** `value` with its variables, interpolations and `$bin` replaced. */
export function resolve(value: Json, vars: Variables): unknown {
  if (typeof value === 'string') {
    if (/^\$[A-Za-z_]\w*$/.test(value)) return variable(value.slice(1), vars);
    return value.replace(/\$\{([A-Za-z_]\w*)\}/g, (_, name: string) =>
      String(variable(name, vars)),
    );
  }
  if (Array.isArray(value)) return value.map((item) => resolve(item, vars));
  if (value === null || typeof value !== 'object') return value;
  const object = value as { readonly [key: string]: Json };
  const keys = Object.keys(object);
  if (keys.length === 1 && keys[0] === '$bin') return hexToBytes(String(object.$bin));
  return Object.fromEntries(keys.map((key) => [key, resolve(object[key] as Json, vars)]));
}

export function number(expression: NumberExpression, vars: Variables): number {
  const terms = Array.isArray(expression) ? expression : [expression];
  let sum = 0;
  for (const term of terms) {
    const value = typeof term === 'string' ? resolve(term, vars) : term;
    if (typeof value !== 'number') {
      throw new VectorError(`${JSON.stringify(term)} is not a number`);
    }
    sum += value;
  }
  return sum;
}

/** Null when `actual` matches `pattern`, else a sentence saying how it differs. */
export function mismatch(actual: unknown, pattern: Json, vars: Variables): string | null {
  if (pattern !== null && typeof pattern === 'object' && !Array.isArray(pattern)) {
    const object = pattern as { readonly [key: string]: Json };
    const keys = Object.keys(object);
    if (keys.length === 1 && keys[0] === '$ne') {
      const other = resolve(object.$ne as Json, vars);
      return equal(actual, other) ? `${show(actual)}, expected anything else` : null;
    }
    if (keys.length === 1 && keys[0] === '$type') {
      const type = typeOf(actual);
      return type === object.$type ? null : `${show(actual)} (${type}), expected a ${object.$type}`;
    }
  }
  const expected = resolve(pattern, vars);
  return equal(actual, expected) ? null : `${show(actual)}, expected ${show(expected)}`;
}

/** The MessagePack family of a decoded value, as `$type` names it. */
export function typeOf(value: unknown): string {
  if (value === null) return 'nil';
  if (value instanceof Uint8Array) return 'bin';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float';
  if (typeof value === 'object') return 'map';
  return typeof value;
}

/** Structural equality of decoded values; bytes compare by content. */
export function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return (
      a instanceof Uint8Array &&
      b instanceof Uint8Array &&
      a.length === b.length &&
      a.every((byte, i) => byte === b[i])
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, i) => equal(item, b[i]))
    );
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length &&
      keys.every(
        (key) =>
          Object.hasOwn(b, key) &&
          equal((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
      )
    );
  }
  return Object.is(a, b) || a === b;
}

/** A short, readable form of a value for failure messages. */
export function show(value: unknown): string {
  const text = JSON.stringify(toJson(value));
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
