import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'vite';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const packages = fileURLToPath(new URL('../../../packages/', import.meta.url));
const source = (name: string) => join(packages, name, 'src/index.ts');

/**
 * Browsers get @probe/protocol's lean MessagePack codec (the package's "browser" build, see
 * packages/protocol/docs/browser-codec.md); built from source, the codec module is swapped the
 * same way the package build swaps it, so the page runs what a browser app would.
 */
const leanCodec: Plugin = {
  name: 'probe-lean-msgpack',
  enforce: 'pre',
  resolveId(id, importer) {
    if (id === './msgpack.js' && importer?.endsWith(join('protocol', 'src', 'codec.ts'))) {
      return join(packages, 'protocol/src/msgpack-lean.ts');
    }
    return null;
  },
};

/**
 * Builds the web client into `outDir` with @probe/* from source, so the page and a server built
 * from the same tree always speak the protocol of the packages as they are now.
 */
export async function buildWebFromSource(outDir: string): Promise<void> {
  await build({
    configFile: join(appDir, 'vite.config.ts'),
    root: appDir,
    logLevel: 'warn',
    plugins: [leanCodec],
    resolve: {
      alias: { '@probe/protocol': source('protocol'), '@probe/client': source('client') },
    },
    build: { outDir, emptyOutDir: true, sourcemap: false },
  });
}
