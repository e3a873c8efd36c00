import { defineConfig } from 'vite';

// The web client. `vite build` writes dist/web, which the chat server serves; `pnpm dev:web`
// runs Vite's dev server and forwards the API and WebSocket to a chat server on :3000.
export default defineConfig({
  root: import.meta.dirname,
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/probe': { target: 'ws://127.0.0.1:3000', ws: true },
    },
  },
});
