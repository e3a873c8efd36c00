import { Cluster, type Redis } from 'ioredis';

/** One more connection like `client` (for pub/sub or blocking reads, which hold theirs). */
export function duplicate(client: Redis | Cluster): Redis | Cluster {
  const copy = client instanceof Cluster ? client.duplicate() : client.duplicate();
  // Failures surface through the operations that fail; without a listener ioredis would
  // print every reconnect attempt.
  copy.on('error', () => {});
  return copy;
}
