import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import shared from '../../tsup.shared';

const { version } = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

// The metrics' meter carries the package version (see src/metrics.ts).
export default defineConfig({
  ...(shared as object),
  define: { __PROBE_SERVER_VERSION__: JSON.stringify(version) },
});
