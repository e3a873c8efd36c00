import { sleep, waitFor } from '@probe/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CutLink, type NativeSocketConstructor } from '../src/web/cut-link.js';
import { type ChatHarness, startChatHarness } from './harness.js';

// The browser's cut control, driven here with `ws` as the native socket and a real server.
const Native = WebSocket as unknown as NativeSocketConstructor;

let harness: ChatHarness;
afterEach(async () => {
  await harness?.close();
});

describe('CutLink', () => {
  it('makes a socket created during the cut never open, and a later one open normally', async () => {
    harness = await startChatHarness();
    const link = new CutLink(Native);
    link.cut(60_000);
    const stuck = new link.WebSocket(harness.wsUrl);
    let opened = false;
    stuck.onopen = () => {
      opened = true;
    };
    await sleep(300);
    expect(opened).toBe(false);
    expect(stuck.readyState).toBe(0);
    expect(harness.server.probe.stats().connections).toBe(0);
    link.restore();
    await sleep(100);
    expect(opened).toBe(false);

    const fresh = new link.WebSocket(harness.wsUrl);
    await new Promise<void>((resolve) => {
      fresh.onopen = () => resolve();
    });
    stuck.close();
    fresh.close();
  });

  it('blackholes a live session: the server suspends it, the client reconnects after the cut and nothing is lost or repeated', async () => {
    harness = await startChatHarness();
    const link = new CutLink(Native);
    const ada = harness.connect('ada', {
      WebSocket: link.WebSocket,
      // Attempts during the cut hang until this gives up, like a SYN into the void.
      reconnect: { connectTimeoutMs: 300 },
    });
    const bob = harness.connect('bob');
    await Promise.all([ada.join('general'), bob.join('general')]);
    const adaSession = [...harness.server.probe.sessions()].find((s) => s.data.nick === 'ada')!;
    const suspends: string[] = [];
    adaSession.on('suspend', (reason) => suspends.push(reason));
    const closedByServer: number[] = [];
    ada.client.on('disconnect', ({ code }) => closedByServer.push(code));

    ada.post('general', 'a0', 'a0');
    await bob.next('posted', (m) => m.cid === 'a0');
    link.cut(1500);
    for (let i = 1; i <= 10; i++) {
      ada.post('general', `a${i}`, `a${i}`);
      bob.post('general', `b${i}`, `b${i}`);
      await sleep(50);
    }
    // Nothing from ada gets through while cut, and nothing reaches her.
    expect(bob.texts('general').filter((t) => t.startsWith('a'))).toEqual(['a0']);
    // Within a probe interval and timeout (0.4 s); generous for a machine running other tests.
    await waitFor(() => suspends.length > 0, { timeoutMs: 10_000 });
    expect(suspends).toEqual(['probe-timeout']);

    const resumed = new Promise<{ replayedToServer: number }>((resolve) =>
      ada.client.once('resume', resolve),
    );
    expect((await resumed).replayedToServer).toBe(10);
    await waitFor(() => ada.texts('general').length === 21 && bob.texts('general').length === 21, {
      timeoutMs: 5000,
    });
    const adaSeqs = ada.all('posted').map((m) => m.seq);
    const bobSeqs = bob.all('posted').map((m) => m.seq);
    expect(adaSeqs).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(bobSeqs).toEqual(adaSeqs);
    expect(ada.texts('general')).toEqual(bob.texts('general'));
    expect(ada.texts('general').filter((t) => t.startsWith('a'))).toEqual(
      Array.from({ length: 11 }, (_, i) => `a${i}`),
    );
    expect(ada.states).toEqual(expect.arrayContaining(['reconnecting', 'open']));
    expect(ada.states.at(-1)).toBe('open');
    // Detected by silence, never by a close from the wire.
    expect(closedByServer[0]).toBe(4001);
    expect(await ada.next('resumed')).toMatchObject({ reason: 'probe-timeout' });
  });
});
