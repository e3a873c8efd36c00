import { describe, expect, it } from 'vitest';
import { encodeMessage } from './codec.js';
import { Delivery, WindowCounter } from './delivery.js';

const limits = { maxMessages: 3, maxBytes: 1000, highWaterMarkBytes: 20 };

function pushN(delivery: Delivery, n: number, data: unknown = 'x'): boolean[] {
  const results: boolean[] = [];
  for (let i = 0; i < n; i++) results.push(delivery.push(encodeMessage(delivery.nextSeq, data)));
  return results;
}

describe('Delivery', () => {
  it('numbers outbound messages and drops what the peer acknowledged', () => {
    const delivery = new Delivery(limits);
    pushN(delivery, 2);
    expect(delivery.nextSeq).toBe(3);
    delivery.acknowledge(1);
    expect(delivery.outbound.size).toBe(1);
  });

  it('refuses an ack of a message never sent as a retryable sequence gap', () => {
    const delivery = new Delivery(limits);
    pushN(delivery, 1);
    expect(() => delivery.acknowledge(2)).toThrow(
      expect.objectContaining({ code: 'sequence-gap', closeCode: 4004 }),
    );
  });

  it('reports overflow before and after keeping a frame', () => {
    const delivery = new Delivery(limits);
    pushN(delivery, 3);
    expect(delivery.wouldOverflow(1)).toBe(true);
    expect(delivery.overflowing).toBe(false);
    pushN(delivery, 1);
    expect(delivery.overflowing).toBe(true);
  });

  it('asks to wait above the high-water mark and drains once acks bring it back', () => {
    const delivery = new Delivery({ ...limits, maxMessages: 100 });
    const results = pushN(delivery, 3, 'y'.repeat(8));
    expect(results).toEqual([true, false, false]);
    expect(delivery.acknowledge(1)).toBe(false);
    expect(delivery.acknowledge(3)).toBe(true);
    expect(delivery.acknowledge(3)).toBe(false);
  });

  it('resumes: replays what the peer missed and re-sends the last ack', () => {
    const delivery = new Delivery({ ...limits, maxMessages: 100 });
    pushN(delivery, 3);
    delivery.receive(1);
    delivery.receive(2);
    expect(delivery.inbound.takeAck()).toBe(2);
    const replay = delivery.resume(1, 4);
    expect(replay).toHaveLength(2);
    expect(delivery.outbound.size).toBe(2);
    expect(delivery.inbound.takeAck()).toBe(2);
  });

  it('refuses a resume that claims unsent messages or forgets received ones', () => {
    const delivery = new Delivery(limits);
    pushN(delivery, 1);
    delivery.receive(1);
    delivery.receive(2);
    expect(() => delivery.resume(2, 2)).toThrow(/claims message 2, only 1 were sent/);
    expect(() => delivery.resume(1, 1)).toThrow(/sent up to 1, yet 2 were received/);
    expect(() => delivery.resume(1, 1)).toThrow(expect.objectContaining({ code: 'bad-sequence' }));
  });

  it('restores a buffer loaded from elsewhere with its sequence numbers', () => {
    const delivery = new Delivery(limits);
    delivery.outbound.restore(10, [encodeMessage(11, 'a'), encodeMessage(12, 'b')]);
    expect(delivery.nextSeq).toBe(13);
    expect(delivery.resume(11, 0)).toHaveLength(1);
  });
});

describe('WindowCounter', () => {
  it('allows `limit` hits per window, then refuses until old ones age out', () => {
    const counter = new WindowCounter(2, 1000);
    expect([counter.hit(0), counter.hit(10), counter.hit(20)]).toEqual([true, true, false]);
    expect(counter.hit(1011)).toBe(true);
  });
});
