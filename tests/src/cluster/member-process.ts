// Room members in a process of their own (forked through tsx by room-processes.ts), so the test
// can kill them outright: their sessions are never closed, they just stop answering, as when
// the devices or browsers behind them go away. Imports the built @probe/client.
//
// argv: <MemberProcessSettings as JSON>
// Each member opens a session through `url`, joins every room in `rooms` and waits for the
// node's answer; once all have, the process reports { joined: count } and idles until killed.

import { ProbeClient } from '@probe/client';
import type { MemberAuth, MemberCommand, MemberInbound } from './room-reports.js';

export interface MemberProcessSettings {
  readonly url: string;
  readonly count: number;
  /** Member numbers are firstIndex, firstIndex + 1, … (they go in `auth`). */
  readonly firstIndex: number;
  readonly rooms: readonly string[];
}

export type MemberProcessReport = { readonly joined: number } | { readonly problem: string };

/** Longest this process lives, whatever happens to the test that started it. */
const MAX_LIFETIME_MS = 10 * 60_000;
/** Longest the members may take to open their sessions and join. */
const JOIN_TIMEOUT_MS = 60_000;

const send = process.send?.bind(process);
if (!send) throw new Error('member process: run me with child_process.fork (I report over IPC)');
const report = (message: MemberProcessReport) => send(message);
const settings = JSON.parse(process.argv[2] ?? 'null') as MemberProcessSettings | null;
if (!settings) throw new Error('member process: usage: member-process.ts <settings as JSON>');

process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();

const { url, count, firstIndex, rooms } = settings;
let joined = 0;
for (let i = 0; i < count; i++) {
  const m = firstIndex + i;
  const client = new ProbeClient<MemberInbound, MemberCommand>(url, {
    auth: { m } satisfies MemberAuth,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  const waiting = new Set(rooms);
  client.on('message', (data) => {
    if (!('done' in data) || data.done !== 'join' || !waiting.delete(data.room)) return;
    if (waiting.size === 0 && ++joined === count) report({ joined });
  });
  client.once('open', () => {
    for (const [index, room] of rooms.entries()) client.send({ op: 'join', room, j: index + 1 });
  });
  client.on('session-lost', (info) => report({ problem: `member ${m}: lost ${info.reason}` }));
  client.on('close', (info) => report({ problem: `member ${m}: closed ${info.code}` }));
}
setTimeout(() => {
  if (joined < count) report({ problem: `only ${joined} of ${count} members joined` });
}, JOIN_TIMEOUT_MS).unref();
