import { waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitForState } from './harness.js';

let h: Harness | undefined;
afterEach(async () => h?.close());

describe('volatile broadcast', () => {
  it('reaches connected members at most once and is never stored or replayed', async () => {
    h = await startHarness();
    const client = h.client();
    const received: unknown[] = [];
    client.on('message', (data) => received.push(data));
    await waitForState(client, 'open');
    await waitFor(() => h!.sessions.length === 1);
    const session = h.sessions[0]!;
    await session.join('room');
    h.server.broadcast({ typing: 'ann' }, { room: 'room', volatile: true });
    h.server.broadcast('kept', { room: 'room' });
    await waitFor(() => received.length === 2);
    expect(received).toEqual([{ typing: 'ann' }, 'kept']);
    // Cut the path: a volatile message sent meanwhile is lost, a numbered one is replayed.
    h.proxy.refuse(true);
    h.proxy.latest()!.reset();
    await waitFor(() => session.state === 'suspended', { timeoutMs: 3000 });
    expect(h.server.broadcast({ typing: 'bob' }, { room: 'room', volatile: true })).toBe(0);
    h.server.broadcast('replayed', { room: 'room' });
    h.proxy.refuse(false);
    await waitFor(() => received.length === 3, { timeoutMs: 5000 });
    expect(received).toEqual([{ typing: 'ann' }, 'kept', 'replayed']);
    // Only numbered messages are kept for replay, until acknowledged.
    await waitFor(() => session.buffered.messages === 0);
  });
});
