import { defineConfig } from 'vitest/config';

// No aliases: @probe/* resolve through their package.json exports to the build output (run the
// build first), and the install check installs the packed tarballs from npm's point of view.
export default defineConfig({
  test: {
    name: 'install-check',
    // npm install of the tarballs and Vite, a Vite build and Chromium share two cores.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
