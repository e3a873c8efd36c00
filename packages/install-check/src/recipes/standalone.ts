// packages/server/README.md, "A standalone port".
import { ProbeServer } from '@probe/server';
import { echo, type Started } from './echo.js';

export async function standalone(port: number): Promise<Started> {
  const probe = new ProbeServer({ probeIntervalMs: 5000, probeTimeoutMs: 3000 });
  probe.on('session', echo);
  const address = await probe.listen(port, '127.0.0.1');
  return { url: `ws://127.0.0.1:${address.port}/`, close: () => probe.close() };
}
