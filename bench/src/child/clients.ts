// Client process: holds many clients of one system (fan-out and idle scenarios).
import { serve } from '../lib/child-runtime.js';
import { deferred, epochNow, sleep, withTimeout } from '../lib/time.js';
import { adapter, type BenchClient, type SystemName } from '../systems/index.js';

const clients: BenchClient[] = [];
let received = 0;
let downs = 0;
let failures = 0;
let waiter: { total: number; done: (t: number) => void } | null = null;

/**
 * Heartbeats seen per client (idle scenario), counted from the last `probeMark`: how many, and
 * the longest time without one (from the mark, between two, and from the last to the report).
 */
let nextSlot = 0;
/** The probe slot of each client in `clients`, same order. */
const openSlots: number[] = [];
const probes = {
  tracking: false,
  since: 0,
  count: new Uint32Array(0),
  last: new Float64Array(0),
  maxGap: new Float64Array(0),
};

function grow(size: number): void {
  if (probes.count.length >= size) return;
  const capacity = Math.max(size, probes.count.length * 2, 1024);
  const count = new Uint32Array(capacity);
  count.set(probes.count);
  const last = new Float64Array(capacity);
  last.set(probes.last);
  const maxGap = new Float64Array(capacity);
  maxGap.set(probes.maxGap);
  Object.assign(probes, { count, last, maxGap });
}

function onProbe(index: number): void {
  if (!probes.tracking) return;
  const now = performance.now();
  probes.count[index]!++;
  const gap = now - probes.last[index]!;
  if (gap > probes.maxGap[index]!) probes.maxGap[index] = gap;
  probes.last[index] = now;
}

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
      /** Loopback source address of every connection of this process (127.0.0.x). */
      localAddress?: string;
      /** Count the server's heartbeats per client (see `probeMark`). */
      trackProbes?: boolean;
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
            const index = nextSlot++;
            grow(nextSlot);
            const client = connect(
              args.url,
              { reconnect: false, localAddress: args.localAddress },
              {
                onMessage,
                onDown: () => {
                  downs++;
                },
                ...(args.trackProbes && { onProbe: () => onProbe(index) }),
              },
            );
            try {
              await withTimeout(client.opened, 15_000, 'client open');
              clients.push(client);
              openSlots.push(index);
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
    /** Starts counting heartbeats per client from now. */
    probeMark() {
      const now = performance.now();
      probes.tracking = true;
      probes.since = now;
      probes.count.fill(0);
      probes.last.fill(now);
      probes.maxGap.fill(0);
      return {};
    },
    /**
     * Since `probeMark`: heartbeats per client (fewest, most, total), clients that got none, and
     * the longest silence any client saw (the stretch up to now included).
     */
    probeReport() {
      const now = performance.now();
      const n = openSlots.length;
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      let total = 0;
      let none = 0;
      let maxGapMs = 0;
      for (const i of openSlots) {
        const c = probes.count[i]!;
        min = Math.min(min, c);
        max = Math.max(max, c);
        total += c;
        if (c === 0) none++;
        maxGapMs = Math.max(maxGapMs, probes.maxGap[i]!, now - probes.last[i]!);
      }
      return {
        clients: n,
        min: n > 0 ? min : 0,
        max,
        total,
        none,
        maxGapMs,
        ms: now - probes.since,
      };
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
      openSlots.length = 0;
      for (const client of clients.splice(0)) client.close();
      await sleep(100);
      return {};
    },
  },
  () => {
    for (const client of clients.splice(0)) client.close();
  },
);
