import { describe, expect, it } from 'vitest';
import { MAX_TEXT_LENGTH } from './schema.js';
import { cidOf, parseJoin, parsePost, parseTyping } from './validate.js';

describe('parseJoin, parseTyping and parsePost', () => {
  it('accept well-formed payloads, trimming the text and ignoring extra fields', () => {
    expect(parseJoin({ room: 'dev' })).toEqual({ room: 'dev' });
    expect(parseTyping({ room: 'help', extra: 1 })).toEqual({ room: 'help' });
    expect(parsePost({ room: 'dev', cid: 'x', text: ' hi ', extra: 1 })).toEqual({
      room: 'dev',
      cid: 'x',
      text: 'hi',
    });
  });

  it('say what is wrong with anything else', () => {
    expect(parseJoin('hi')).toBe('the payload must be an object');
    expect(parseJoin(null)).toBe('the payload must be an object');
    expect(parseTyping(undefined)).toBe('the payload must be an object');
    expect(parseJoin({ room: 'nope' })).toBe("unknown room 'nope'");
    expect(parseTyping({})).toBe("'room' must be a string, got nothing");
    expect(parsePost({ room: 'dev', text: 'x' })).toMatch(/'cid'/);
    expect(parsePost({ room: 'dev', cid: 'c', text: 5 })).toMatch(/'text'/);
    expect(parsePost({ room: 'dev', cid: 'c', text: '  ' })).toBe('empty message');
    expect(parsePost({ room: 'dev', cid: 'c', text: 'x'.repeat(MAX_TEXT_LENGTH + 1) })).toMatch(
      /longer than/,
    );
    expect(parsePost({ room: '__proto__', cid: 'c', text: 'x' })).toMatch(/room/);
  });
});

describe('hostile input', () => {
  const huge = 'x'.repeat(100_000);

  it('names a wrongly typed field by its kind, without converting it', () => {
    const post = { room: 'dev', cid: 'c', text: 'x' };
    expect(parsePost([post])).toBe('the payload must be an object');
    expect(parsePost({ ...post, room: { toString: 1 } })).toBe(
      "'room' must be a string, got an object",
    );
    expect(parsePost({ ...post, room: ['dev'] })).toBe("'room' must be a string, got an array");
    expect(parsePost({ ...post, text: ['x'] })).toBe("'text' must be a string, got an array");
    expect(parsePost({ ...post, text: null })).toBe("'text' must be a string, got null");
    expect(parsePost({ ...post, cid: 7 })).toMatch(/'cid'/);
    expect(parseJoin({ room: 5 })).toBe("'room' must be a string, got a number");
  });

  it('keeps every error short, however long the input', () => {
    const post = { room: 'dev', cid: 'c', text: 'x' };
    for (const bad of [{ room: huge }, { cid: huge }, { text: huge }]) {
      const error = parsePost({ ...post, ...bad });
      expect(typeof error).toBe('string');
      expect((error as string).length).toBeLessThan(100);
    }
    expect((parseJoin({ room: huge }) as string).length).toBeLessThan(100);
  });

  it('accepts only plain ids, and echoes only those', () => {
    const post = { room: 'dev', text: 'x' };
    expect(parsePost({ ...post, cid: 'a1b2-c_3' })).toMatchObject({ cid: 'a1b2-c_3' });
    for (const cid of ['', 'a b', 'id\u202E', 'x'.repeat(65), 'é']) {
      expect(parsePost({ ...post, cid })).toMatch(/'cid'/);
    }
    expect(cidOf({ cid: 'ok-1' })).toBe('ok-1');
    expect(cidOf({ cid: 'bad\u200B' })).toBe('');
    expect(cidOf({ cid: huge })).toBe('');
    expect(cidOf(null)).toBe('');
    expect(cidOf('cid')).toBe('');
  });

  it('cleans room names before looking them up', () => {
    expect(parseJoin({ room: ' \u2066dev\u2069 ' })).toEqual({ room: 'dev' });
    expect(parseJoin({ room: 'dev\u0000x\u202E' })).toBe("unknown room 'devx'");
    expect(parseJoin({ room: 'd'.repeat(300) })).toBe("'room' is too long (300 characters)");
  });
});
