import type { ProxiedConnection } from '@probe/testkit';
import { sleep } from '@probe/testkit';
import type { Lane } from './lane.js';

export type FaultKind =
  /** TCP reset of the live connection. */
  | 'reset'
  /** Clean close (FIN both ways) of the live connection. */
  | 'end'
  /** Reset, then reset the reconnection too, 0–20 ms in: mid-handshake or mid-replay. */
  | 'reset-mid-resume'
  /** Bytes vanish both ways and reconnects are refused for 0.3–4 s; then the path recovers. */
  | 'blackhole'
  /** Every chunk delayed 20–300 ms each way for 1–3 s. */
  | 'latency'
  /** Reset, and reconnects refused for 0.5–3 s. */
  | 'refuse';

/** Relative frequencies of the fault kinds. */
export const FAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  reset: 0.2,
  end: 0.1,
  'reset-mid-resume': 0.08,
  blackhole: 0.3,
  latency: 0.2,
  refuse: 0.12,
};

/** Longest a fault keeps its path broken, in ms (the blackhole's upper bound). */
export const LONGEST_FAULT_MS = 4_000;

export function pickFault(random: () => number): FaultKind {
  let draw = random();
  for (const [kind, weight] of Object.entries(FAULT_WEIGHTS) as [FaultKind, number][]) {
    draw -= weight;
    if (draw < 0) return kind;
  }
  return 'reset';
}

export interface FaultOutcome {
  kind: FaultKind;
  /** How a blackhole ended; see {@link blackhole}. */
  ending?: 'restored' | 'stall' | 'reset';
  /** From the path being usable again to the session resumed, in ms. */
  recoveredMs?: number;
  /** Set when the session did not come back, or came back as a new one. */
  failure?: string;
}

/** Lets the lane's client back in with `letIn` and measures how long until it resumed. */
async function recovery(
  lane: Lane,
  outcome: FaultOutcome,
  timeoutMs: number,
  letIn: () => void,
): Promise<FaultOutcome> {
  const reopened = lane.nextOpen(timeoutMs);
  letIn();
  const from = performance.now();
  const info = await reopened;
  if (info === null) {
    const closed = lane.client.state === 'closed';
    return { ...outcome, failure: closed ? 'closed for good' : `no open within ${timeoutMs} ms` };
  }
  if (!info.resumed) return { ...outcome, failure: 'a new session opened instead of a resume' };
  return { ...outcome, recoveredMs: performance.now() - from };
}

/**
 * A real TCP connection never delivers a stream with a hole in it: when a path recovers,
 * either both ends still hold the connection and TCP retransmits what was lost, or an end has
 * given up on it. The proxy cannot retransmit, so the blackhole ends the way that keeps the
 * stream whole: restored if both ends already dropped the connection (their withheld closes
 * pass on) or if nothing was sent meanwhile (a pure stall); otherwise reset, as when a NAT or
 * load balancer lost the connection's state during the outage.
 */
async function blackhole(
  lane: Lane,
  conn: ProxiedConnection,
  random: () => number,
  timeoutMs: number,
): Promise<FaultOutcome> {
  const before = {
    disconnects: lane.disconnects,
    suspends: lane.suspends,
    dropped: conn.bytesDropped,
  };
  lane.proxy.refuse(true);
  conn.blackhole();
  await sleep(300 + random() * (LONGEST_FAULT_MS - 300));
  const clientNoticed = lane.disconnects > before.disconnects;
  const serverNoticed = lane.suspends > before.suspends;
  if (!clientNoticed && !serverNoticed && conn.bytesDropped === before.dropped) {
    lane.proxy.refuse(false);
    conn.restore();
    return { kind: 'blackhole', ending: 'stall' };
  }
  const ending = clientNoticed && serverNoticed ? 'restored' : 'reset';
  return recovery(lane, { kind: 'blackhole', ending }, timeoutMs, () => {
    lane.proxy.refuse(false);
    if (ending === 'restored') conn.restore();
    else conn.reset();
  });
}

/**
 * Injects one fault of `kind` on the lane's live connection and waits until the session has
 * resumed (faults that break the connection) or the fault is over (latency).
 */
export async function inject(
  lane: Lane,
  kind: FaultKind,
  random: () => number,
  timeoutMs: number,
): Promise<FaultOutcome | null> {
  const conn = lane.proxy.latest();
  if (!conn) return null;
  switch (kind) {
    case 'reset':
      return recovery(lane, { kind }, timeoutMs, () => conn.reset());
    case 'end':
      return recovery(lane, { kind }, timeoutMs, () => conn.end());
    case 'reset-mid-resume': {
      const next = lane.proxy.waitForConnection(timeoutMs).catch(() => null);
      conn.reset();
      const second = await next;
      if (second === null) return { kind, failure: `no reconnection within ${timeoutMs} ms` };
      await sleep(random() * 20);
      return recovery(lane, { kind }, timeoutMs, () => second.reset());
    }
    case 'blackhole':
      return blackhole(lane, conn, random, timeoutMs);
    case 'latency':
      conn.setLatency(20 + random() * 280);
      await sleep(1_000 + random() * 2_000);
      conn.setLatency(0);
      return { kind };
    case 'refuse':
      lane.proxy.refuse(true);
      conn.reset();
      await sleep(500 + random() * 2_500);
      return recovery(lane, { kind }, timeoutMs, () => lane.proxy.refuse(false));
  }
}
