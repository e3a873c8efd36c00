import { describe, expect, it } from 'vitest';
import { cidOf, MAX_TEXT_LENGTH, parseClientMessage } from './messages.js';

describe('parseClientMessage', () => {
  it('accepts joins and says, trimming the text', () => {
    expect(parseClientMessage({ type: 'join', room: 'dev' })).toEqual({
      type: 'join',
      room: 'dev',
    });
    expect(
      parseClientMessage({ type: 'say', room: 'dev', cid: 'x', text: ' hi ', extra: 1 }),
    ).toEqual({ type: 'say', room: 'dev', cid: 'x', text: 'hi' });
    // Cluster demo: no fields, anything else in it is ignored.
    expect(parseClientMessage({ type: 'restart-node', room: 5 })).toEqual({ type: 'restart-node' });
  });

  it('says what is wrong with anything else', () => {
    expect(parseClientMessage('hi')).toBe('a message must be an object');
    expect(parseClientMessage({ type: 'join', room: 'nope' })).toBe("unknown room 'nope'");
    expect(parseClientMessage({ type: 'shout', room: 'dev' })).toBe("unknown message type 'shout'");
    expect(parseClientMessage({ type: 'say', room: 'dev', text: 'x' })).toMatch(/'cid'/);
    expect(parseClientMessage({ type: 'say', room: 'dev', cid: 'c', text: 5 })).toMatch(/'text'/);
    expect(
      parseClientMessage({
        type: 'say',
        room: 'dev',
        cid: 'c',
        text: 'x'.repeat(MAX_TEXT_LENGTH + 1),
      }),
    ).toMatch(/longer than/);
    expect(parseClientMessage({ type: 'say', room: '__proto__', cid: 'c', text: 'x' })).toMatch(
      /room/,
    );
  });
});

describe('hostile input', () => {
  const huge = 'x'.repeat(100_000);

  it('names a wrongly typed field by its kind, without converting it', () => {
    const say = { type: 'say', room: 'dev', cid: 'c', text: 'x' };
    expect(parseClientMessage([say])).toBe('a message must be an object');
    expect(parseClientMessage({ ...say, type: 5 })).toBe("'type' must be a string, got a number");
    expect(parseClientMessage({ ...say, room: { toString: 1 } })).toBe(
      "'room' must be a string, got an object",
    );
    expect(parseClientMessage({ ...say, room: ['dev'] })).toBe(
      "'room' must be a string, got an array",
    );
    expect(parseClientMessage({ ...say, text: ['x'] })).toBe(
      "'text' must be a string, got an array",
    );
    expect(parseClientMessage({ ...say, text: null })).toBe("'text' must be a string, got null");
    expect(parseClientMessage({ ...say, cid: 7 })).toMatch(/'cid'/);
  });

  it('keeps every error short, however long the input', () => {
    const say = { type: 'say', room: 'dev', cid: 'c', text: 'x' };
    for (const bad of [{ type: huge }, { room: huge }, { cid: huge }, { text: huge }]) {
      const error = parseClientMessage({ ...say, ...bad });
      expect(typeof error).toBe('string');
      expect((error as string).length).toBeLessThan(100);
    }
  });

  it('accepts only plain ids, and echoes only those', () => {
    const say = { type: 'say', room: 'dev', text: 'x' };
    expect(parseClientMessage({ ...say, cid: 'a1b2-c_3' })).toMatchObject({ cid: 'a1b2-c_3' });
    for (const cid of ['', 'a b', 'id\u202E', 'x'.repeat(65), 'é']) {
      expect(parseClientMessage({ ...say, cid })).toMatch(/'cid'/);
    }
    expect(cidOf({ cid: 'ok-1' })).toBe('ok-1');
    expect(cidOf({ cid: 'bad\u200B' })).toBe('');
    expect(cidOf({ cid: huge })).toBe('');
    expect(cidOf(null)).toBe('');
    expect(cidOf('cid')).toBe('');
  });

  it('cleans room names before looking them up', () => {
    expect(parseClientMessage({ type: 'join', room: ' \u2066dev\u2069 ' })).toEqual({
      type: 'join',
      room: 'dev',
    });
    expect(parseClientMessage({ type: 'join', room: 'dev\u0000x\u202E' })).toBe(
      "unknown room 'devx'",
    );
    expect(parseClientMessage({ type: 'join', room: 'd'.repeat(300) })).toBe(
      "'room' is too long (300 characters)",
    );
  });
});
