// CPU profiles of one measured window (not the whole process life), written as .cpuprofile
// files like `node --cpu-prof` writes. Enabled with BENCH_WINDOW_PROF=DIR.
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CallFrame, location } from './source-location.js';

let session: Session | null = null;

export async function startProfile(): Promise<void> {
  if (session) return;
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}

export async function stopProfile(file: string): Promise<string> {
  if (!session) throw new Error('no profile running');
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  session = null;
  // Resolve source locations now: the built files may be rebuilt before anyone reads this.
  for (const node of profile.nodes) {
    const frame = node.callFrame as CallFrame;
    if (!frame.url.includes('/dist/')) continue;
    frame.source = location(frame);
    if (rebuiltSinceStart(frame.url)) frame.source += ' [built file changed during the run]';
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

/** Where window profiles go, or null when not asked for. */
export function windowProfileDir(): string | null {
  const dir = process.env.BENCH_WINDOW_PROF;
  return dir ? resolve(dir) : null;
}

function rebuiltSinceStart(url: string): boolean {
  try {
    return statSync(fileURLToPath(url)).mtimeMs > performance.timeOrigin;
  } catch {
    return false;
  }
}
