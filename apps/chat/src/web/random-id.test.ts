import { describe, expect, it } from 'vitest';
import { isAuthorKey, isCid } from '../shared/validate.js';
import { randomId } from './random-id.js';

describe('randomId', () => {
  it('gives unrelated ids that the server accepts as message ids and keys', () => {
    const ids = Array.from({ length: 1000 }, randomId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 10)) {
      expect(id).toMatch(/^[0-9a-f]{32}$/);
      expect(isCid(id)).toBe(true);
      expect(isAuthorKey(id)).toBe(true);
    }
    // No shared prefix with a counter behind it: the next id cannot be told from the last.
    expect(ids[0]!.slice(0, 8)).not.toBe(ids[1]!.slice(0, 8));
  });
});
