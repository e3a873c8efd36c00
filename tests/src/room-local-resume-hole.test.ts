import { decode, FrameType, PROTOCOL_VERSION } from '@probe/protocol';
import { RedisSessionStore } from '@probe/redis';
import { ProbeServer } from '@probe/server';
import { RawClient, sleep, startRedis } from '@probe/testkit';
import { expect, it } from 'vitest';

const HEX = `local out = {}
for _, f in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = (string.gsub(f, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
return out`;

it('local resume while room entries keep coming', async () => {
  const redis = await startRedis();
  const store = new RedisSessionStore({ url: redis.url });
  const server = new ProbeServer({ store, probeIntervalMs: 1000, probeTimeoutMs: 1000 });
  const errors: string[] = [];
  server.on('error', (e) => errors.push(String(e)));
  server.on('session', (s, info) => {
    if (!info.moved) void s.join('r');
  });
  const { port } = await server.listen(0, '127.0.0.1');
  const url = `ws://127.0.0.1:${port}/`;
  let b = 0;
  let publishing = true;
  const pub = (async () => {
    while (publishing) {
      for (let i = 0; i < 5; i++) server.broadcast({ b: ++b }, { room: 'r' });
      await sleep(2);
    }
  })();
  let raw = await RawClient.connect(url);
  raw.sendFrame({ type: FrameType.HELLO, version: PROTOCOL_VERSION, auth: null, resume: null });
  const welcome = await raw.nextFrame();
  if (welcome.type !== FrameType.WELCOME) throw new Error('no welcome');
  let token = welcome.token;
  let lastSeq = 0;
  const events: string[] = [];
  const collect = (r: RawClient) => {
    r.ws.on('message', (data: Buffer) => {
      const f = decode(data);
      if (f.type === FrameType.WELCOME) {
        token = f.token;
        events.push(`welcome resumed=${f.resumed} sentSeq=${f.sentSeq}`);
        return;
      }
      if (f.type === FrameType.GOODBYE) {
        events.push(`goodbye ${f.code} ${f.reason}`);
        return;
      }
      if (f.type !== FrameType.MESSAGE) return;
      if (f.seq !== lastSeq + 1) {
        events.push(`gap: expected ${lastSeq + 1}, got ${f.seq}`);
        r.terminate();
      } else lastSeq = f.seq;
    });
    r.ws.on('close', (code: number) => events.push(`close ${code}`));
  };
  collect(raw);
  for (let round = 0; round < 60; round++) {
    await sleep(30);
    raw.terminate();
    await sleep(20);
    raw = await RawClient.connect(url);
    collect(raw);
    raw.sendFrame({
      type: FrameType.HELLO,
      version: PROTOCOL_VERSION,
      auth: null,
      resume: { sessionId: welcome.sessionId, token, lastSeq, sentSeq: 0 },
    });
    await sleep(30);
    if (events.filter((e) => e.startsWith('gap')).length >= 3) break;
  }
  publishing = false;
  await pub;
  await sleep(300);
  const hex = (await redis.command('EVAL', HEX, 1, `probe:{${welcome.sessionId}}:q`)) as string[];
  const seqs = hex.map((h) => (decode(Buffer.from(h, 'hex')) as { seq: number }).seq);
  const holes: string[] = [];
  for (let i = 1; i < seqs.length; i++)
    if (seqs[i] !== seqs[i - 1]! + 1) holes.push(`${seqs[i - 1]} -> ${seqs[i]}`);
  const fields = await redis.command('HMGET', `probe:{${welcome.sessionId}}`, 'out', 'ack', 'ep');
  console.log(
    events
      .filter((e) => !e.startsWith('welcome'))
      .slice(0, 12)
      .join('\n'),
  );
  console.log(
    'stored frames',
    seqs.length,
    'first',
    seqs[0],
    'last',
    seqs.at(-1),
    'holes',
    holes.slice(0, 5),
    'out/ack/ep',
    fields,
    'errors',
    errors.slice(0, 3),
  );
  raw.terminate();
  await server.close();
  await store.close();
  await redis.stop();
  expect(holes).toEqual([]);
}, 60_000);
