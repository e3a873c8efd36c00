// Scenario 6: browser bundle size, min+gzip, built the same way for every client.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { Log, Row } from '../lib/results.js';
import { add, row } from '../lib/results.js';

const benchDir = new URL('../..', import.meta.url).pathname;
/** Where Probe's own dependencies resolve (pnpm keeps them out of bench/node_modules). */
const clientDir = new URL('../../../packages/client', import.meta.url).pathname;

/**
 * Probe's runtime dependencies: left out to measure Probe's own code. msgpackr is in the Node
 * build only: for platform 'browser', @probe/protocol's "browser" condition gives the build with
 * its own MessagePack codec (msgpack-lean.ts), which counts as Probe's own code.
 */
const PROBE_DEPS = ['msgpackr', 'eventemitter3', 'isomorphic-ws', 'ws'];

export interface BundleSize {
  minified: number;
  gzipped: number;
  /** Minified bytes each input file contributes, largest first. */
  inputs: [string, number][];
}

/** Minified ESM browser bundle of `source` (all deps unless `external`), and its gzip size. */
export async function bundleSize(
  source: string,
  external: string[] = [],
  resolveDir = benchDir,
): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: source, resolveDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    // es2022 like scripts/bundle-size.mjs: class fields and #private members stay native, as in
    // every browser the client supports and in Vite's default build target.
    target: 'es2022',
    write: false,
    external,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
    metafile: true,
    outfile: 'bundle.js',
  });
  const code = result.outputFiles[0]!.contents;
  const output = Object.values(result.metafile.outputs)[0];
  const inputs = Object.entries(output?.inputs ?? {})
    .map(([file, { bytesInOutput }]): [string, number] => [
      file.replace(/^.*node_modules\//, '').replace(/^(\.\.\/)+/, ''),
      bytesInOutput,
    ])
    .sort((a, b) => b[1] - a[1]);
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, inputs };
}

export async function runBundle(log: Log): Promise<Row[]> {
  const total = row(
    'Client bundle (esbuild, browser ESM, minified, gzip -9)',
    'bytes, with all dependencies',
    false,
  );
  const own = row(
    'Client bundle (esbuild, browser ESM, minified, gzip -9)',
    "bytes, the client's own code (dependencies external)",
    false,
  );
  const sio = await bundleSize("export { io } from 'socket.io-client';");
  const probe = await bundleSize("export { ProbeClient } from '@probe/client';");
  const probeOwn = await bundleSize("export { ProbeClient } from '@probe/client';", PROBE_DEPS);
  const sioOwn = await bundleSize("export { io } from 'socket.io-client';", [
    'engine.io-client',
    'socket.io-parser',
    '@socket.io/component-emitter',
    'debug',
  ]);
  add(total, 'socketio', sio.gzipped);
  add(total, 'probe', probe.gzipped);
  add(own, 'socketio', sioOwn.gzipped);
  add(own, 'probe', probeOwn.gzipped);
  const ee3 = await bundleSize("export { EventEmitter } from 'eventemitter3';", [], clientDir);
  log(
    `  bundle: socket.io-client ${sio.gzipped} B (min ${sio.minified}), @probe/client ${probe.gzipped} B ` +
      `(min ${probe.minified}), Probe own ${probeOwn.gzipped} B (MessagePack codec included), ` +
      `ratio ${(probe.gzipped / sio.gzipped).toFixed(2)}; eventemitter3 ${ee3.gzipped} B`,
  );
  const top = (b: BundleSize) =>
    b.inputs
      .slice(0, 8)
      .map(([file, bytes]) => `${file} ${bytes}`)
      .join(', ');
  log(`  @probe/client bundle, minified bytes by input: ${top(probe)}`);
  log(`  Probe own code, minified bytes by input: ${top(probeOwn)}`);
  total.exact = true;
  own.exact = true;
  return [total, own];
}
