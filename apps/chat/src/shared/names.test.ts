import { describe, expect, it } from 'vitest';
import { cleanNick, MAX_NICK_LENGTH, MAX_RAW_NAME_LENGTH } from './names.js';

describe('cleanNick', () => {
  it('trims, strips control characters and caps the length', () => {
    expect(cleanNick('  ada\u0000\n ')).toBe('ada');
    expect(cleanNick('x'.repeat(40))).toHaveLength(MAX_NICK_LENGTH);
    expect(() => cleanNick(' \t ')).toThrow('a nickname is required');
    expect(() => cleanNick(undefined)).toThrow('a nickname is required');
    expect(() => cleanNick(42)).toThrow('a nickname is required');
  });

  it('removes bidi controls and zero-width characters, so one name cannot pose as another', () => {
    const bidi = '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F';
    const zeroWidth = '\u200B\u200C\u200D\u2060\uFEFF';
    expect(cleanNick(`a${bidi}d${zeroWidth}a`)).toBe('ada');
    expect(cleanNick('\u202Enimda')).toBe('nimda');
    // Other format characters (\p{Cf}), C1 controls, line separators, Hangul fillers.
    expect(cleanNick('a\u00ADd\u0085a\u2028\u3164\u180E')).toBe('ada');
    expect(() => cleanNick(bidi + zeroWidth)).toThrow('a nickname is required');
    expect(() => cleanNick('\u3164\u115F')).toThrow('a nickname is required');
  });

  it('normalises to NFC and collapses spaces', () => {
    expect(cleanNick('Jose\u0301')).toBe('Jos\u00E9');
    expect(cleanNick('Jos\u200Be\u0301')).toBe('Jos\u00E9');
    expect(cleanNick('ada \u00A0\u3000 lovelace')).toBe('ada lovelace');
    expect(cleanNick('漢字 ✨')).toBe('漢字 ✨');
  });

  it('counts code points and refuses absurd input outright', () => {
    expect(cleanNick('😀'.repeat(30))).toBe('😀'.repeat(MAX_NICK_LENGTH));
    expect(cleanNick(`${'a'.repeat(MAX_NICK_LENGTH - 1)} b`)).toBe('a'.repeat(MAX_NICK_LENGTH - 1));
    expect(() => cleanNick('a'.repeat(MAX_RAW_NAME_LENGTH + 1))).toThrow('too long');
  });
});
