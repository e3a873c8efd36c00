import { describe, expect, it } from 'vitest';
import { RoomHistory } from './history.js';

const fields = (i: number) => ({ ts: i, from: 'u', nick: 'ada', text: `t${i}`, cid: `c${i}` });

describe('RoomHistory', () => {
  it('numbers messages from 1 and keeps only the newest `limit`', () => {
    const history = new RoomHistory('general', 3);
    for (let i = 1; i <= 5; i++) history.append(fields(i), 'k');
    expect(history.size).toBe(3);
    expect(history.lastSeq).toBe(5);
    expect(history.snapshot().map((m) => [m.seq, m.text])).toEqual([
      [3, 't3'],
      [4, 't4'],
      [5, 't5'],
    ]);
    expect(history.snapshot()[0]!.room).toBe('general');
  });

  it('finds a message by client id while it is held', () => {
    const history = new RoomHistory('dev', 2);
    history.append(fields(1), 'k');
    history.append(fields(2), 'k');
    expect(history.findResent('k', 'c1')?.seq).toBe(1);
    history.append(fields(3), 'k');
    expect(history.findResent('k', 'c1')).toBeUndefined();
    expect(history.findResent('k', 'c3')?.seq).toBe(3);
  });

  it("matches only the author's own ids", () => {
    const history = new RoomHistory('dev', 5);
    history.append(fields(1), 'bob');
    expect(history.findResent('ada', 'c1')).toBeUndefined();
    history.append(fields(1), 'ada');
    expect(history.findResent('ada', 'c1')?.seq).toBe(2);
    expect(history.findResent('bob', 'c1')?.seq).toBe(1);
    expect(history.snapshot()[0]).not.toHaveProperty('author');
  });

  it('hands out copies', () => {
    const history = new RoomHistory('dev', 2);
    history.append(fields(1), 'k');
    history.snapshot().pop();
    expect(history.size).toBe(1);
  });
});
