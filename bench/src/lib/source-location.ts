// Maps a V8 call frame in a built file back to its TypeScript source through the source map.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
  /** Added by window profiles: the location resolved when the profile was taken. */
  source?: string;
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(url: string): SourceMap | null {
  if (maps.has(url)) return maps.get(url)!;
  let map: SourceMap | null = null;
  try {
    const path = url.startsWith('file://') ? fileURLToPath(url) : url;
    if (existsSync(`${path}.map`))
      map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
  } catch {
    map = null;
  }
  maps.set(url, map);
  return map;
}

function shortPath(path: string): string {
  const i = path.indexOf('/node_modules/');
  if (i >= 0) {
    const rest = path.slice(path.lastIndexOf('/node_modules/') + 14);
    return `node_modules/${rest}`;
  }
  return path.replace(/^.*\/work\/main\//, '').replace(/^file:\/\//, '');
}

export function location(frame: CallFrame): string {
  if (!frame.url) return '(native)';
  const line = frame.lineNumber + 1;
  const map = sourceMapFor(frame.url);
  if (map) {
    const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (entry.originalSource) {
      const src = entry.originalSource.replace(/^(\.\.\/)+/, '');
      const pkg = shortPath(frame.url).replace(/\/dist\/.*$/, '');
      return `${pkg}/${src}:${(entry.originalLine ?? 0) + 1} (${shortPath(frame.url)}:${line})`;
    }
  }
  return `${shortPath(frame.url)}:${line}`;
}
