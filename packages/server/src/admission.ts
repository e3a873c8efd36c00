import type { IncomingMessage } from 'node:http';
import type { AllowOrigin } from './options.js';

/** True when `allow` accepts the Origin of this upgrade request (see {@link AllowOrigin}). */
export function originAllowed(allow: AllowOrigin, request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (allow === 'any') return true;
  if (typeof allow === 'function') return allow(origin, request);
  if (origin === undefined) return true;
  if (allow === 'same-origin') return hostOf(origin) === request.headers.host?.toLowerCase();
  return allow.includes(origin);
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return null;
  }
}

/** Open connections per remote address, for `maxConnectionsPerAddress`. */
export class AddressCounts {
  private readonly counts = new Map<string, number>();

  /** True while `address` holds fewer than `limit` connections. */
  hasRoom(address: string | undefined, limit: number): boolean {
    return address === undefined || (this.counts.get(address) ?? 0) < limit;
  }

  add(address: string | undefined): void {
    if (address !== undefined) this.counts.set(address, (this.counts.get(address) ?? 0) + 1);
  }

  delete(address: string | undefined): void {
    if (address === undefined) return;
    const count = this.counts.get(address);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(address);
    else this.counts.set(address, count - 1);
  }
}
