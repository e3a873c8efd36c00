import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { redisServerPath } from '@probe/testkit';

/** Soft limit on open files of this process (children inherit it); Infinity if unknown. */
export function fdLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export function describeMachine(): string {
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim() ?? 'unknown CPU';
  const memGiB = (os.totalmem() / 1024 ** 3).toFixed(0);
  return `${model}, ${cpus.length} cores, ${memGiB} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** The commit benchmarked, and whether the SDK packages had uncommitted changes. */
export function describeSource(): string {
  const root = new URL('../../..', import.meta.url).pathname;
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const subject = git('log', '-1', '--format=%s');
    const head = `${git('log', '-1', '--format=%h (%cI)')} "${subject.length > 60 ? `${subject.slice(0, 59)}…` : subject}"`;
    const dirty = git(
      'status',
      '--porcelain',
      '--',
      'packages/protocol',
      'packages/server',
      'packages/client',
      'packages/redis',
    )
      .split('\n')
      .filter(Boolean).length;
    return `${head}${dirty > 0 ? ` (plus ${dirty} uncommitted changes in packages/protocol, server, client, redis)` : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/** `redis-server x.y.z` of the binary the scenarios start, or a note that there is none. */
export function redisVersion(): string {
  try {
    const out = execFileSync(redisServerPath(), ['--version'], { encoding: 'utf8' });
    const version = /v=(\S+)/.exec(out)?.[1];
    return `redis-server ${version ?? 'unknown version'}`;
  } catch {
    return 'redis-server (not found)';
  }
}
