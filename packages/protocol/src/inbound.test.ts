import { describe, expect, it } from 'vitest';
import { ACK_EVERY_MESSAGES, InboundSequence } from './inbound.js';

describe('InboundSequence', () => {
  it('delivers in order, drops duplicates and refuses gaps', () => {
    const inbound = new InboundSequence();
    expect(inbound.accept(1)).toBe(true);
    expect(inbound.accept(1)).toBe(false);
    expect(() => inbound.accept(3)).toThrow(/expected 2/);
    expect(() => inbound.accept(3)).toThrow(
      expect.objectContaining({ code: 'sequence-gap', closeCode: 4004 }),
    );
    expect(inbound.lastSeq).toBe(1);
  });

  it('asks for an ack at once after ACK_EVERY_MESSAGES unacknowledged messages', () => {
    const inbound = new InboundSequence();
    for (let seq = 1; seq < ACK_EVERY_MESSAGES; seq++) inbound.accept(seq);
    expect(inbound.ackDue).toBe(false);
    inbound.accept(ACK_EVERY_MESSAGES);
    expect(inbound.ackDue).toBe(true);
    expect(inbound.takeAck()).toBe(ACK_EVERY_MESSAGES);
    expect(inbound.ackDue).toBe(false);
    expect(inbound.takeAck()).toBe(null);
  });
});
