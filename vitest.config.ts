import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import @probe/* from source, so no build step is needed before `vitest run`.
const src = (name: string) =>
  fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));
const alias = {
  '@probe/protocol': src('protocol'),
  '@probe/server': src('server'),
  '@probe/client': src('client'),
  '@probe/testkit': src('testkit'),
  '@probe/redis': src('redis'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      { resolve: { alias }, test: { name: 'protocol', root: 'packages/protocol' } },
      { resolve: { alias }, test: { name: 'server', root: 'packages/server' } },
      { resolve: { alias }, test: { name: 'client', root: 'packages/client' } },
      { resolve: { alias }, test: { name: 'testkit', root: 'packages/testkit' } },
      { resolve: { alias }, test: { name: 'redis', root: 'packages/redis', testTimeout: 30_000 } },
      { resolve: { alias }, test: { name: 'chat', root: 'apps/chat' } },
      {
        resolve: { alias },
        // --expose-gc: the soak suite measures heap growth after forced collections.
        test: { name: 'tests', root: 'tests', execArgv: ['--expose-gc'] },
      },
    ],
  },
});
