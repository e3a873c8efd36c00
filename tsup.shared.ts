import { defineConfig } from 'tsup';

/** The build of every published package: ESM and CJS with declarations for both. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  // tsup sets baseUrl for its declaration build, which TypeScript 6 flags as deprecated.
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
