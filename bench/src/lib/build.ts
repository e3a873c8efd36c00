import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../../..', import.meta.url).pathname;
/** In dependency order. */
const PACKAGES = ['protocol', 'server', 'client', 'redis'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (!entry.name.includes('.test.')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The benchmark imports the built packages (what users install). Builds any whose dist is
 * missing or older than its sources, with pnpm directly (no turbo needed).
 */
export function ensureBuilt(log: (line: string) => void): void {
  let rebuilt = false;
  for (const name of PACKAGES) {
    const dir = join(root, 'packages', name);
    const dist = join(dir, 'dist', 'index.js');
    const stale =
      rebuilt || !existsSync(dist) || statSync(dist).mtimeMs < newestMtime(join(dir, 'src'));
    if (!stale) continue;
    log(`building @probe/${name} (dist missing or older than src)…`);
    const result = spawnSync('pnpm', ['--filter', `@probe/${name}`, 'run', 'build'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 180_000,
    });
    if (result.status !== 0) {
      throw new Error(
        `building @probe/${name} failed (exit ${result.status}); run its build to see why`,
      );
    }
    rebuilt = true;
  }
}

/** Modification time of each package's built entry point, to notice a rebuild during a run. */
export function distStamp(): Record<string, number> {
  const stamp: Record<string, number> = {};
  for (const name of PACKAGES) {
    const dist = join(root, 'packages', name, 'dist', 'index.js');
    stamp[name] = existsSync(dist) ? statSync(dist).mtimeMs : 0;
  }
  return stamp;
}

/** Packages whose build changed between two stamps. */
export function rebuiltSince(before: Record<string, number>): string[] {
  const now = distStamp();
  return Object.keys(now).filter((name) => now[name] !== before[name]);
}
