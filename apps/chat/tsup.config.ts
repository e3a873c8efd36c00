import { defineConfig } from 'tsup';

// The chat server and the cluster launcher, for Node. Dependencies (@probe/server,
// @probe/redis, ioredis) stay imports, resolved at run time.
export default defineConfig({
  entry: { index: 'src/server/index.ts', cluster: 'src/server/cluster-main.ts' },
  outDir: 'dist/server',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
});
