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

// The protocol suite once more with the browser codec: codec.ts imports msgpack-lean.ts where
// it imports msgpack.ts (msgpackr), as the browser and React Native builds of @probe/protocol do.
const protocolSrc = fileURLToPath(new URL('./packages/protocol/src/', import.meta.url));
const leanCodec = {
  name: 'probe-lean-msgpack',
  enforce: 'pre' as const,
  resolveId(source: string, importer: string | undefined) {
    if (source === './msgpack.js' && importer === `${protocolSrc}codec.ts`) {
      return `${protocolSrc}msgpack-lean.ts`;
    }
    return null;
  },
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      { resolve: { alias }, test: { name: 'protocol', root: 'packages/protocol' } },
      {
        resolve: { alias },
        plugins: [leanCodec],
        test: {
          name: 'protocol-lean',
          root: 'packages/protocol',
          // msgpackr (compared with in msgpack-lean.test.ts) reads strings in JavaScript, as in a browser.
          env: { MSGPACKR_NATIVE_ACCELERATION_DISABLED: 'true' },
        },
      },
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
