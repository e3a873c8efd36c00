// Client process of the room-broadcast scenario: many members of one room, connected to one
// node; counts deliveries and, while recording, the latency of each one from the monotonic
// timestamp (`ts`) the publishing node put in the message.
import { serve } from '../lib/child-runtime.js';
import { monoNow, sleep, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

const clients: BenchClient[] = [];
let received = 0;
let lastAt = 0;
let recording = false;
let latencies = new Float64Array(1 << 16);
let recorded = 0;
let waiter: (() => void) | null = null;
/** Members whose connection went down (they do not reconnect), by reason. */
const down: Record<string, number> = {};
const noteDown = (reason: string) => {
  down[reason] = (down[reason] ?? 0) + 1;
};

function onMessage(data: unknown): void {
  const now = monoNow();
  received++;
  lastAt = now;
  if (recording) {
    const ts = (data as { ts?: unknown } | null)?.ts;
    if (typeof ts === 'number') {
      if (recorded === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[recorded++] = now - ts;
    }
  }
  waiter?.();
}

serve(
  {
    /** Opens `count` clients to `url`, at most `concurrency` connecting at once. */
    async connect(args: {
      system: SystemName;
      url: string;
      count: number;
      concurrency: number;
      timeoutMs: number;
    }) {
      const { connect } = await adapter(args.system);
      const deadline = performance.now() + args.timeoutMs;
      let next = 0;
      const worker = async () => {
        while (next < args.count) {
          if (performance.now() > deadline) throw new Error('connect phase timed out');
          next++;
          for (let attempt = 1; ; attempt++) {
            const client = connect(
              args.url,
              { reconnect: false },
              { onMessage, onClosed: (reason) => noteDown(`closed: ${reason}`) },
            );
            try {
              await withTimeout(client.opened, 15_000, 'client open');
              clients.push(client);
              break;
            } catch (error) {
              client.close();
              if (attempt >= 3) throw error;
              await sleep(100 * attempt);
            }
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(args.concurrency, args.count) }, worker));
      return { connected: clients.length };
    },
    counters() {
      return { received, down };
    },
    /**
     * Resolves once `total` deliveries arrived since this process started, or when nothing
     * arrived for `stallMs` (then `received` is short of `total`), or after `timeoutMs`.
     */
    async expect(args: { total: number; stallMs: number; timeoutMs: number }) {
      const started = monoNow();
      lastAt = Math.max(lastAt, started);
      if (received < args.total) {
        await new Promise<void>((resolve) => {
          const check = () => {
            if (received >= args.total) finish();
          };
          const timer = setInterval(
            () => {
              const now = monoNow();
              if (now - lastAt >= args.stallMs || now - started >= args.timeoutMs) finish();
            },
            Math.min(50, args.stallMs),
          );
          const finish = () => {
            clearInterval(timer);
            waiter = null;
            resolve();
          };
          waiter = check;
        });
      }
      return { received, down };
    },
    /** Starts or stops recording latencies. */
    record(args: { on: boolean }) {
      recording = args.on;
      return {};
    },
    /** The latencies recorded so far (ms), then forgets them. */
    takeLatencies() {
      const out = latencies.slice(0, recorded);
      recorded = 0;
      return { latencies: out };
    },
  },
  () => {
    for (const client of clients.splice(0)) client.close();
  },
);
