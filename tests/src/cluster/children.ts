// Child processes of the cluster suites: forked through tsx, importing the built packages as an
// application does, and never outliving the test process.

import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** Children still alive, killed when the test process ends. */
const live = new Set<ChildProcess>();
let hooked = false;

/**
 * SIGKILL every child on exit, and on SIGINT/SIGTERM/SIGHUP, which skip 'exit' (a test runner
 * stops its workers with SIGTERM). A child that is not stopped also exits when the IPC channel
 * closes; a SIGSTOPped one needs this.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const child of live) child.kill('SIGKILL');
    live.clear();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAll();
      // Ours was the only handler: let the signal do what it would have done without it.
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** The tsx loader, after checking that `packages` are dependencies of @probe/tests and built. */
function loader(packages: readonly string[]): string {
  for (const name of packages) {
    const dir = fileURLToPath(new URL(`../../node_modules/${name}/`, import.meta.url));
    if (!existsSync(dir)) throw new Error(`${name} is not a dependency of @probe/tests (${dir})`);
    if (!existsSync(`${dir}dist`)) {
      throw new Error(`${name} is not built: run pnpm turbo run build`);
    }
  }
  try {
    return pathToFileURL(require.resolve('tsx')).href;
  } catch (error) {
    throw new Error('tsx is not a devDependency of @probe/tests', { cause: error });
  }
}

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Forks `entry` (a .ts module) with IPC; `exited` resolves when it ends. */
export function forkChild(
  entry: string,
  args: string[],
  packages: readonly string[],
): { child: ChildProcess; exited: Promise<Exit> } {
  const tsx = loader(packages);
  hookExit();
  const child = fork(entry, args, {
    execArgv: ['--import', tsx],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, exited };
}
