import { decode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { RedisSessionStore } from '@probe/redis';
import { ProbeServer } from '@probe/server';
import { RawClient, sleep, startRedis, waitFor } from '@probe/testkit';
import { expect, it } from 'vitest';

it('a session that leaves a room as it arrives on another node gets nothing more of it', async () => {
  const redis = await startRedis();
  const nodes = await Promise.all(
    [0, 1].map(async () => {
      const store = new RedisSessionStore({ url: redis.url, heartbeatMs: 200 });
      const server = new ProbeServer({
        store,
        probeIntervalMs: 1000,
        probeTimeoutMs: 1000,
        handoverTimeoutMs: 500,
      });
      server.on('session', (s, info) => {
        if (!info.moved) void s.join('r');
        s.on('message', (data) => {
          if ((data as { op?: string } | null)?.op === 'leave') s.leave('r');
        });
      });
      const { port } = await server.listen(0, '127.0.0.1');
      return { store, server, url: `ws://127.0.0.1:${port}/` };
    }),
  );
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const first = await RawClient.connect(a.url);
  first.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
  const welcome = await first.nextFrame();
  if (welcome.type !== FrameType.WELCOME) throw new Error('no welcome');
  await waitFor(() => a.server.rooms.members('r').length === 1);
  await sleep(50);
  let lastSeq = 0;
  for (let i = 1; i <= 20; i++) a.server.broadcast({ b: i }, { room: 'r' });
  for (let i = 0; i < 20; i++) {
    const f = await first.nextFrame();
    if (f.type === FrameType.MESSAGE) lastSeq = f.seq;
    else i--;
  }
  first.sendFrame({ type: FrameType.ACK, seq: lastSeq });
  await sleep(100);
  first.terminate();
  await waitFor(() => [...a.server.sessions()][0]?.state === 'suspended');
  await sleep(100);
  for (let i = 21; i <= 25; i++) a.server.broadcast({ b: i }, { room: 'r' });
  await sleep(100);
  const second = await RawClient.connect(b.url);
  const got: unknown[] = [];
  second.ws.on('message', (data: Buffer) => {
    const f = decode(data);
    if (f.type === FrameType.WELCOME)
      second.sendFrame({ type: FrameType.MESSAGE, seq: 1, data: { op: 'leave' } });
    if (f.type === FrameType.MESSAGE) got.push((f.data as { b: number }).b);
  });
  second.sendFrame({
    type: FrameType.HELLO,
    version: PROTOCOL_VERSION,
    auth: null,
    resume: { sessionId: welcome.sessionId, token: welcome.token, lastSeq, sentSeq: 0 },
  });
  await sleep(1000);
  second.terminate();
  for (const n of nodes) {
    await n.server.close();
    await n.store.close();
  }
  await redis.stop();
  // Entries 21..25 (published while it was away, before it left) may come; nothing after the
  // leave, and never entries it already had.
  expect(got.filter((x) => (x as number) <= 20)).toEqual([]);
}, 30_000);
