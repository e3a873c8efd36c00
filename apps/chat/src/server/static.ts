import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** The page loads only its own bundle and talks only to its own origin. */
const CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'";

/**
 * Serves the built web client from `root` (GET and HEAD). `/` is `index.html`; files under
 * `/assets/` carry a content hash in their names, so they may be cached for good.
 * @returns false when no file matched (the caller answers 404).
 */
export async function serveStatic(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
  } catch {
    return false;
  }
  if (pathname.endsWith('/')) pathname += 'index.html';
  const file = normalize(join(root, pathname));
  // `join` resolves `..`; anything that lands outside the root is not ours to serve.
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return false;
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    size = info.size;
  } catch {
    return false;
  }
  const type = extname(file);
  response.writeHead(200, {
    'content-type': TYPES[type] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': pathname.startsWith('/assets/')
      ? 'public, max-age=31536000, immutable'
      : 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(type === '.html' ? { 'content-security-policy': CSP } : {}),
  });
  if (request.method === 'HEAD') {
    response.end();
    return true;
  }
  createReadStream(file)
    .on('error', () => response.destroy())
    .pipe(response);
  return true;
}
