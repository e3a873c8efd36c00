/** Debian's Chromium, or the binary PROBE_CHROMIUM names (see TOOLCHAIN notes in the README). */
export const CHROMIUM_PATH = process.env.PROBE_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for headless Chromium in tests: as root in a container, with no network beyond
 * loopback (background networking would try to reach Google's hosts and be refused).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
