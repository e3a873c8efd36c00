// One Probe server node of the room suite, run as its own process (forked through tsx by
// room-node-process.ts). It imports @probe/server and @probe/redis as an application would,
// from their built packages: run `pnpm turbo run build` first.
//
// argv: <RoomNodeSettings as JSON>
// Members send { op: 'join' | 'leave', room, j }; the node joins or leaves and answers
// { done, room, j, node } once the operation took effect. The test sends { broadcast: b, room }
// over IPC; the node broadcasts { room, b } to the room. Everything is reported to the test
// (see room-reports.ts) with µs timestamps, including when the store's append of each
// broadcast returned. SIGTERM is a deploy: the server closes (members resume on other nodes),
// then the store, then the process exits 0.

import { RedisSessionStore } from '@probe/redis';
import { ProbeServer } from '@probe/server';
import {
  type BroadcastCommand,
  type MemberAuth,
  type MemberCommand,
  type MemberInbound,
  nowUs,
  type RoomNodeReport,
  type RoomNodeSettings,
} from './room-reports.js';

/** Longest a graceful close may take before the process gives up and exits 1. */
const CLOSE_TIMEOUT_MS = 20_000;
/** Longest a node may live, whatever happens to the test that started it. */
const MAX_LIFETIME_MS = 15 * 60_000;

const send = process.send?.bind(process);
if (!send) throw new Error('room node: run me with child_process.fork (I report over IPC)');
const report = (message: RoomNodeReport) => send(message);

const settings = JSON.parse(process.argv[2] ?? 'null') as RoomNodeSettings | null;
if (!settings) throw new Error('room node: usage: room-node.ts <settings as JSON>');

let node = '';
/** The broadcast whose append the store is being asked for right now (set around the call). */
let publishing: number | null = null;

/**
 * The application's store, told when the append of each broadcast returns: from then on the
 * entry is in the room's stream whatever happens to this process.
 */
class ReportingStore extends RedisSessionStore {
  override async publish(room: string, payload: Uint8Array, except: string | null) {
    // server.broadcast() calls this synchronously, so `publishing` names the broadcast.
    const b = publishing;
    try {
      const id = await super.publish(room, payload, except);
      if (b !== null) report({ published: b, room, id, node, at: nowUs() });
      return id;
    } catch (error) {
      if (b !== null) report({ publishFailed: b, room, node, error: String(error) });
      throw error;
    }
  }
}

const store = new ReportingStore({
  url: settings.redisUrl,
  ...(settings.endedTtlMs !== undefined && { endedTtlMs: settings.endedTtlMs }),
  ...(settings.heartbeatMs !== undefined && { heartbeatMs: settings.heartbeatMs }),
  ...(settings.operationTimeoutMs !== undefined && {
    operationTimeoutMs: settings.operationTimeoutMs,
  }),
});
const server = new ProbeServer<MemberAuth, MemberCommand, MemberInbound>({
  store,
  probeIntervalMs: settings.probeIntervalMs,
  probeTimeoutMs: settings.probeTimeoutMs,
  sessionTtlMs: settings.sessionTtlMs,
  ...(settings.ackDelayMs !== undefined && { ackDelayMs: settings.ackDelayMs }),
  authenticate: (auth) => {
    const m = (auth as Partial<MemberAuth> | null)?.m;
    if (typeof m !== 'number') throw new Error('auth { m } expected');
    return { m };
  },
});
node = server.nodeId;

server.on('session', (session, info) => {
  const { m } = session.data;
  report({ session: session.id, m, moved: info.moved, node });
  // A session that moved here is resumed once on arrival; any later resume is on this node.
  let arriving = info.moved;
  session.on('resume', () => {
    report({ resumed: m, local: !arriving, node, at: nowUs() });
    arriving = false;
  });
  session.on('suspend', (reason) => report({ suspended: m, reason, node, at: nowUs() }));
  const answer = (reply: MemberInbound) => {
    try {
      session.send(reply);
    } catch {
      // The session left this node meanwhile: the member asks again where it resumes.
    }
  };
  session.on('message', ({ op, room, j }, { redelivered }) => {
    if (op === 'join') {
      report({ joinCall: m, room, j, redelivered, node, at: nowUs() });
      let joining: Promise<void>;
      try {
        joining = session.join(room);
      } catch (error) {
        report({ joinFailed: m, room, j, node, error: String(error) });
        return;
      }
      joining.then(
        () => {
          const { state } = session;
          const member = session.rooms.has(room);
          report({ joined: m, room, j, node, at: nowUs(), member, state });
          if (state !== 'closed' && member) answer({ done: 'join', room, j, node });
        },
        (error: unknown) => report({ joinFailed: m, room, j, node, error: String(error) }),
      );
    } else if (op === 'leave') {
      report({ left: m, room, j, redelivered, node, at: nowUs() });
      session.leave(room);
      answer({ done: 'leave', room, j, node });
    }
  });
});
server.on('error', (error: unknown) => report({ error: String(error), node }));

process.on('message', (command: BroadcastCommand) => {
  const { broadcast: b, room } = command;
  if (typeof b !== 'number') return;
  report({ publishCall: b, room, node, at: nowUs() });
  publishing = b;
  try {
    server.broadcast({ room, b }, { room });
  } finally {
    publishing = null;
  }
});

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(1), CLOSE_TIMEOUT_MS).unref();
  void (async () => {
    await server.close();
    await store.close();
    process.exit(0);
  })().catch((error: unknown) => {
    console.error('room node: close failed', error);
    process.exit(1);
  });
});
// The test process is gone: never linger.
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), MAX_LIFETIME_MS).unref();

const { port } = await server.listen(0, '127.0.0.1');
report({ ready: true, port, nodeId: node });
