import { describe, expect, it } from 'vitest';
import { authenticateChat } from './auth.js';

describe('authenticateChat', () => {
  it('cleans the nickname and refuses one with nothing visible in it', () => {
    expect(authenticateChat({ nick: '\u202Eada\u200B ' }).nick).toBe('ada');
    expect(() => authenticateChat({ nick: '\u200B\u2066' })).toThrow('a nickname is required');
    expect(() => authenticateChat(null)).toThrow('a nickname is required');
    expect(() => authenticateChat({ nick: ['ada'] })).toThrow('a nickname is required');
  });

  it('derives the author from the key, so only the same key is the same author', () => {
    const key = 'k'.repeat(16);
    const a = authenticateChat({ nick: 'ada', key });
    const b = authenticateChat({ nick: 'ada', key });
    expect(a.author).toBe(b.author);
    expect(a.author).not.toContain(key);
    expect(a.id).not.toBe(b.id);
    expect(authenticateChat({ nick: 'eve', key: 'e'.repeat(16) }).author).not.toBe(a.author);
    // Without a key, every session is its own author.
    expect(authenticateChat({ nick: 'ada' }).author).not.toBe(
      authenticateChat({ nick: 'ada' }).author,
    );
  });

  it('refuses a malformed key instead of ignoring it', () => {
    for (const key of [42, 'short', 'x'.repeat(129), 'with spaces in it!', { k: 1 }, null]) {
      expect(() => authenticateChat({ nick: 'ada', key })).toThrow(/key/);
    }
  });
});
