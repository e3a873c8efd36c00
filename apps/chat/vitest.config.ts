import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Same as the root config's projects: @probe/* from source, so no package build is needed.
const src = (name: string) =>
  fileURLToPath(new URL(`../../packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@probe/protocol': src('protocol'),
      '@probe/server': src('server'),
      '@probe/client': src('client'),
      '@probe/testkit': src('testkit'),
      '@probe/redis': src('redis'),
    },
  },
  test: { name: 'chat' },
});
