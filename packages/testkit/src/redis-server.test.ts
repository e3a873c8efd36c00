import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisServer, redisServerPath, respCommand, startRedis } from './redis-server.js';

let redis: RedisServer | undefined;

afterEach(async () => {
  await redis?.stop();
  redis = undefined;
});

/** Resolves true when something accepts connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startRedis', () => {
  it('starts a real redis-server that keeps every write across restarts', async () => {
    redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(existsSync(redis.dir)).toBe(true);
    expect(await redis.command('PING')).toBe('PONG');
    expect(await redis.info('persistence')).toMatchObject({ aof_enabled: '1' });

    expect(await redis.command('SET', 'probe:key', 'kept')).toBe('OK');
    expect(await redis.command('RPUSH', 'probe:list', 'a', 'b')).toBe(2);
    // SIGKILL gives Redis no chance to flush: only appendfsync always keeps the writes.
    const firstPid = redis.pid;
    await redis.kill('SIGKILL');
    expect(redis.running).toBe(false);
    expect(await accepts(redis.port)).toBe(false);

    await redis.restart();
    expect(redis.pid).not.toBe(firstPid);
    expect(await redis.command('GET', 'probe:key')).toBe('kept');
    expect(await redis.command('LRANGE', 'probe:list', 0, -1)).toEqual(['a', 'b']);
    expect(await redis.dbsize()).toBe(2);
    expect((await redis.keys('probe:*')).sort()).toEqual(['probe:key', 'probe:list']);
  });

  it('shuts down on SHUTDOWN, restarts with the data, and stop() removes the directory', async () => {
    redis = await startRedis();
    await redis.command('SET', 'before-shutdown', '1');
    await redis.shutdown();
    expect(redis.running).toBe(false);
    await redis.restart();
    expect(await redis.command('GET', 'before-shutdown')).toBe('1');

    const { dir, port } = redis;
    await redis.stop();
    await redis.stop();
    expect(existsSync(dir)).toBe(false);
    expect(await accepts(port)).toBe(false);
    await expect(redis.restart()).rejects.toThrow('after stop()');
  });

  it('SIGSTOP freezes it and SIGCONT brings it back', async () => {
    redis = await startRedis();
    await redis.kill('SIGSTOP');
    await expect(respCommand(redis.port, ['PING'], 300)).rejects.toThrow('no reply within 300 ms');
    await redis.kill('SIGCONT');
    expect(await redis.command('PING')).toBe('PONG');
  });

  it('runs two servers side by side on different ports and directories', async () => {
    redis = await startRedis();
    const other = await startRedis();
    try {
      expect(other.port).not.toBe(redis.port);
      expect(other.dir).not.toBe(redis.dir);
      await redis.command('SET', 'only-here', '1');
      expect(await other.dbsize()).toBe(0);
    } finally {
      await other.stop();
    }
  });

  it('reports error replies as errors', async () => {
    redis = await startRedis();
    await expect(redis.command('NOSUCHCOMMAND')).rejects.toThrow(/redis: ERR unknown command/);
  });

  it('names the fix when redis-server is missing', () => {
    const saved = { path: process.env.PATH, configured: process.env.PROBE_REDIS_SERVER };
    try {
      delete process.env.PROBE_REDIS_SERVER;
      process.env.PATH = '/nonexistent';
      expect(() => redisServerPath()).toThrow(/apt-get install redis-server.*PROBE_REDIS_SERVER/);
      process.env.PROBE_REDIS_SERVER = '/nonexistent/redis-server';
      expect(() => redisServerPath()).toThrow('PROBE_REDIS_SERVER is /nonexistent/redis-server');
    } finally {
      process.env.PATH = saved.path;
      if (saved.configured === undefined) delete process.env.PROBE_REDIS_SERVER;
      else process.env.PROBE_REDIS_SERVER = saved.configured;
    }
  });
});
