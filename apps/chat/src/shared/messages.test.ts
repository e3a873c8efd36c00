import { describe, expect, it } from 'vitest';
import { cleanNick, MAX_NICK_LENGTH, MAX_TEXT_LENGTH, parseClientMessage } from './messages.js';

describe('parseClientMessage', () => {
  it('accepts joins and says, trimming the text', () => {
    expect(parseClientMessage({ type: 'join', room: 'dev' })).toEqual({
      type: 'join',
      room: 'dev',
    });
    expect(
      parseClientMessage({ type: 'say', room: 'dev', cid: 'x', text: ' hi ', extra: 1 }),
    ).toEqual({ type: 'say', room: 'dev', cid: 'x', text: 'hi' });
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

describe('cleanNick', () => {
  it('trims, strips control characters and caps the length', () => {
    expect(cleanNick('  ada\u0000\n ')).toBe('ada');
    expect(cleanNick('x'.repeat(40))).toHaveLength(MAX_NICK_LENGTH);
    expect(() => cleanNick(' \t ')).toThrow('a nickname is required');
    expect(() => cleanNick(undefined)).toThrow('a nickname is required');
  });
});
