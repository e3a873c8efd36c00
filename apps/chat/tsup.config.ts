import { defineConfig } from 'tsup';

// The chat server, for Node. Dependencies (@probe/server) stay imports, resolved at run time.
export default defineConfig({
  entry: { index: 'src/server/index.ts' },
  outDir: 'dist/server',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
});
