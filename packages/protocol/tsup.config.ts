import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';
import shared from '../../tsup.shared';

const lean = fileURLToPath(new URL('./src/msgpack-lean.ts', import.meta.url));

/**
 * Two builds of the same entry. dist/index.* (Node: servers, Node clients) packs with msgpackr;
 * dist/browser.* (the "browser" and "react-native" conditions of package.json) packs with
 * msgpack-lean.ts, which writes the same bytes at a fraction of the size (docs/browser-codec.md).
 * `pnpm build` empties dist first: the two builds run side by side, so neither cleans.
 */
export default defineConfig([
  { ...(shared as Options), clean: false },
  // The exchange runner for bin/probe-conformance.mjs (Node only, ESM, no declarations).
  {
    ...(shared as Options),
    entry: { conformance: 'src/conformance/index.ts' },
    format: ['esm'],
    platform: 'node',
    dts: false,
    clean: false,
  },
  {
    ...(shared as Options),
    entry: { browser: 'src/index.ts' },
    // Same declarations as dist/index.*, which package.json points the browser conditions at.
    dts: false,
    clean: false,
    esbuildPlugins: [
      {
        name: 'probe-lean-msgpack',
        setup(build) {
          build.onResolve({ filter: /^\.\/msgpack\.js$/ }, (args) =>
            args.importer.endsWith('codec.ts') ? { path: lean } : undefined,
          );
        },
      },
    ],
  },
]);
