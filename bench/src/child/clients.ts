// Client process: holds many clients of one system (fan-out and idle scenarios).
import { serve } from '../lib/child-runtime.js';
import { deferred, epochNow, sleep, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

const clients: BenchClient[] = [];
let received = 0;
let downs = 0;
let failures = 0;
let waiter: { total: number; done: (t: number) => void } | null = null;

function onMessage(): void {
  received++;
  if (waiter !== null && received >= waiter.total) {
    const { done } = waiter;
    waiter = null;
    done(epochNow());
  }
}

serve(
  {
    /** Opens `count` clients, at most `concurrency` connecting at once. */
    async connect(args: {
      system: SystemName;
      url: string;
      count: number;
      concurrency: number;
      timeoutMs: number;
    }) {
      const { connect } = await adapter(args.system);
      const started = performance.now();
      const deadline = started + args.timeoutMs;
      let next = 0;
      const worker = async () => {
        while (next < args.count) {
          if (performance.now() > deadline) throw new Error('connect phase timed out');
          next++;
          // A refused attempt (listen backlog full during a connect storm) is tried again.
          for (let attempt = 1; ; attempt++) {
            const client = connect(
              args.url,
              { reconnect: false },
              {
                onMessage,
                onDown: () => {
                  downs++;
                },
              },
            );
            try {
              await withTimeout(client.opened, 15_000, 'client open');
              clients.push(client);
              break;
            } catch (error) {
              client.close();
              failures++;
              if (attempt >= 3) throw error;
              await sleep(100 * attempt);
            }
          }
        }
      };
      const workers = Array.from({ length: Math.min(args.concurrency, args.count) }, worker);
      await Promise.all(workers);
      return { connected: clients.length, failures, ms: performance.now() - started };
    },
    reset() {
      received = 0;
      return {};
    },
    counters() {
      return { received, downs, clients: clients.length };
    },
    /**
     * Resolves when `total` messages have arrived since the last reset, with the wall-clock
     * time (ms since the epoch) of the delivery that completed the count.
     */
    async expect(args: { total: number; timeoutMs: number }) {
      if (received >= args.total) return { received, t: epochNow() };
      const d = deferred<number>();
      waiter = { total: args.total, done: d.resolve };
      try {
        const t = await withTimeout(d.promise, args.timeoutMs, `${args.total} deliveries`);
        return { received, t };
      } finally {
        waiter = null;
      }
    },
    async closeAll() {
      for (const client of clients.splice(0)) client.close();
      await sleep(100);
      return {};
    },
  },
  () => {
    for (const client of clients.splice(0)) client.close();
  },
);
