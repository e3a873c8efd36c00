import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../shared/schema.js';
import { Timeline } from './timeline.js';

const msg = (seq: number, cid = `c${seq}`): ChatMessage => ({
  room: 'general',
  seq,
  ts: seq,
  from: 'u',
  nick: 'ada',
  text: `t${seq}`,
  cid,
});

describe('Timeline', () => {
  it('keeps each seq once, in order, wherever it arrives from', () => {
    const timeline = new Timeline('general');
    expect(timeline.add(msg(2))).toEqual({ kind: 'added', before: null, replaces: null });
    expect(timeline.add(msg(1))).toEqual({ kind: 'added', before: 2, replaces: null });
    expect(timeline.add(msg(2)).kind).toBe('duplicate');
    expect(timeline.add(msg(3)).kind).toBe('added');
    expect(timeline.delivered.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('retires the pending copy when its echo arrives, even as a duplicate', () => {
    const timeline = new Timeline('general');
    timeline.addPending({ room: 'general', cid: 'mine', text: 't1', ts: 0 });
    timeline.addPending({ room: 'general', cid: 'again', text: 't1', ts: 0 });
    expect(timeline.add(msg(1, 'mine'))).toEqual({ kind: 'added', before: null, replaces: 'mine' });
    expect(timeline.pending.size).toBe(1);
    expect(timeline.add({ ...msg(1), cid: 'again' })).toEqual({
      kind: 'duplicate',
      before: null,
      replaces: 'again',
    });
    expect(timeline.pending.size).toBe(0);
  });

  it('forgets the oldest beyond its limit and ignores what is older still', () => {
    const timeline = new Timeline('general', 2);
    for (const seq of [5, 6, 7]) timeline.add(msg(seq));
    expect(timeline.delivered.map((m) => m.seq)).toEqual([6, 7]);
    expect(timeline.has(5)).toBe(false);
    expect(timeline.add(msg(4)).kind).toBe('too-old');
    expect(timeline.firstSeq).toBe(6);
  });
});

describe('Timeline.clearDelivered', () => {
  it('forgets delivered messages but keeps pending ones, so a restarted server can number afresh', () => {
    const timeline = new Timeline('general');
    timeline.add(msg(1));
    timeline.addPending({ room: 'general', cid: 'p', text: 'later', ts: 0 });
    timeline.clearDelivered();
    expect(timeline.delivered).toEqual([]);
    expect(timeline.pending.size).toBe(1);
    expect(timeline.add(msg(1, 'p'))).toEqual({ kind: 'added', before: null, replaces: 'p' });
  });
});
