// The figures that say whether room delivery across nodes was exact, computed from what the
// test knows: the room's stream as Redis holds it (the room order), when each broadcast was
// made and when its append returned, what each member received, and when it joined and left.
//
// Times are µs on the machine's monotonic clock. What the design promises (docs/scale-out.md,
// "Rooms across nodes"), and so what is checked:
// - Each entry of the room's stream reaches a member at most once, and a member receives
//   entries in stream order.
// - `session.join(room)` reads the stream's head before it resolves: a member receives the
//   entries appended after that read and nothing before it. The read happens between the
//   join call and its resolution, so an entry whose append returned before the member even
//   sent its join is never received, and one whose broadcast was called after the join
//   resolved is. In between either may happen (counted as `receivedBeforeJoinResolved`).
// - A join counts as resolved only on a node whose answer reached the member: `join()` also
//   resolves when the session left that node meanwhile, and then nothing was joined there.
// - From there a member receives the stream in order, without a gap, for as long as it is a
//   member, across nodes and reconnects. `session.leave(room)` stops delivery at once, so
//   entries appended just before a leave and not yet delivered may be missed: a member's
//   entries are a contiguous run of the stream, which may end early at a leave.
// - A broadcast whose node died before its append returned may or may not be in the stream;
//   the stream decides, and every member then gets it or none does.

/** One broadcast the test asked for. */
export interface Broadcast {
  readonly b: number;
  /** Earliest its append can have happened: the broadcast call (or the test's command). */
  readonly from: number;
  /** When the append returned; undefined when it is not known to have (node died, failed). */
  readonly stored?: number | undefined;
}

/** Summed over members; every count but `published`, `uncertain*`, `streamLength` must be 0. */
export interface RoomOrderFigures {
  members: number;
  /** Broadcasts whose append returned: certainly in the room. */
  published: number;
  /** Broadcasts made on a node that died (or failed) before the append returned. */
  uncertain: number;
  /** Uncertain broadcasts that did reach the stream (every member must have them). */
  uncertainInStream: number;
  streamLength: number;
  /** Published broadcasts missing from the stream. */
  missingFromStream: number;
  /** Stream entries the test never asked for. */
  unexpectedInStream: number;
  /** Stream entries a member never received. */
  lost: number;
  /** Repeated receipts of one entry. */
  duplicated: number;
  /** First receipts of an entry that comes before one received earlier. */
  outOfOrder: number;
  /** Received messages that are not in the stream. */
  unknown: number;
  /** Members whose sequence is not exactly the stream. */
  membersOffRoomOrder: number;
  /** Uncertain broadcasts received by some members but not all. */
  uncertainSplit: number;
}

/** At most this many examples of faults. */
const EXAMPLES = 8;

/**
 * Members that were in the room for every broadcast: each must receive exactly the stream,
 * in its order. `received[i]` is member i's sequence of broadcast numbers.
 */
export function roomOrderFigures(
  stream: readonly number[],
  broadcasts: ReadonlyMap<number, Broadcast>,
  received: readonly (readonly number[])[],
  examples: string[] = [],
): RoomOrderFigures {
  const position = positions(stream);
  const note = (text: string) => {
    if (examples.length < EXAMPLES) examples.push(text);
  };
  const figures: RoomOrderFigures = {
    members: received.length,
    published: 0,
    uncertain: 0,
    uncertainInStream: 0,
    streamLength: stream.length,
    missingFromStream: 0,
    unexpectedInStream: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    unknown: 0,
    membersOffRoomOrder: 0,
    uncertainSplit: 0,
  };
  for (const broadcast of broadcasts.values()) {
    if (broadcast.stored !== undefined) {
      figures.published++;
      if (!position.has(broadcast.b)) {
        figures.missingFromStream++;
        note(`b=${broadcast.b} was stored but is not in the stream`);
      }
    } else {
      figures.uncertain++;
      if (position.has(broadcast.b)) figures.uncertainInStream++;
    }
  }
  for (const b of stream) {
    if (!broadcasts.has(b)) {
      figures.unexpectedInStream++;
      note(`b=${b} is in the stream but was never broadcast`);
    }
  }
  const receivedBy = new Map<number, number>();
  for (const [member, sequence] of received.entries()) {
    const seen = new Set<number>();
    let highest = -1;
    for (const b of sequence) {
      const at = position.get(b);
      if (seen.has(b)) {
        figures.duplicated++;
        note(`member ${member}: b=${b} received again`);
        continue;
      }
      seen.add(b);
      receivedBy.set(b, (receivedBy.get(b) ?? 0) + 1);
      if (at === undefined) {
        figures.unknown++;
        note(`member ${member}: b=${b} received but not in the stream`);
        continue;
      }
      if (at < highest) {
        figures.outOfOrder++;
        note(`member ${member}: b=${b} received after b=${stream[highest]}`);
      }
      highest = Math.max(highest, at);
    }
    let lost = 0;
    for (const b of stream) if (!seen.has(b)) lost++;
    if (lost > 0) note(`member ${member}: ${lost} of ${stream.length} entries never received`);
    figures.lost += lost;
    if (sequence.length !== stream.length || sequence.some((b, i) => stream[i] !== b)) {
      figures.membersOffRoomOrder++;
    }
  }
  for (const broadcast of broadcasts.values()) {
    if (broadcast.stored !== undefined) continue;
    const count = receivedBy.get(broadcast.b) ?? 0;
    if (count > 0 && count < received.length) {
      figures.uncertainSplit++;
      note(`uncertain b=${broadcast.b} received by ${count} of ${received.length} members`);
    }
  }
  return figures;
}

/** One join or leave a member sent. */
export interface MemberOp {
  readonly j: number;
  readonly kind: 'join' | 'leave';
  /** When the member sent it (no node acts on it before). */
  readonly sentAt: number;
  /** Every time a node acted on it (a redelivery after a node died acts on it again). */
  readonly calls: readonly number[];
  /**
   * For a join: when `session.join` resolved on a node whose answer reached the member (an
   * answer is sent only once the join is in effect there, and reaches the member only if that
   * node still owned the session after storing it).
   */
  readonly confirmed: readonly number[];
  /** When the member got the first answer, if it did. */
  readonly answeredAt?: number | undefined;
}

/** One member of a room it joined and left, possibly many times. */
export interface MemberHistory {
  readonly member: number;
  /** Its operations on the room, in the order it sent them. */
  readonly ops: readonly MemberOp[];
  /** The room's broadcast numbers it received, in order. */
  readonly received: readonly number[];
  /** When it had no open session: [from, to) (to is Infinity while still down). */
  readonly outages: readonly (readonly [number, number])[];
}

/** Summed over members; the first group must be 0, the second is for information. */
export interface MembershipFigures {
  members: number;
  joins: number;
  leaves: number;
  /** Memberships: from a join to the leave after it (or to the end). */
  memberships: number;
  /** Members still in the room at the end. */
  inAtEnd: number;
  received: number;
  duplicated: number;
  outOfOrder: number;
  /** Received messages that are not in the stream. */
  unknown: number;
  /** Entries received that were appended entirely outside every membership of the member. */
  outsideMembership: number;
  /** Entries missed between two received in one membership (after its join resolved). */
  gaps: number;
  /** Entries broadcast after the join resolved of a member still in the room at the end, missed. */
  missedAtEnd: number;
  /**
   * Entries stored well before the leave (see {@link LEAVE_MARGIN_US}) of a membership during
   * which the member stayed connected to one session the whole time, missed.
   */
  missedWhileConnected: number;
  /** Entries that rule above covered. */
  checkedWhileConnected: number;
  /** For information: entries of a membership's last moments not delivered before its leave. */
  droppedAtLeave: number;
  /** For information: entries received whose append returned before their join resolved. */
  receivedBeforeJoinResolved: number;
}

/**
 * A membership during which the member stayed connected must have received what was stored
 * this long before its leave was sent: time enough for the node to read the entry and deliver
 * it on a loaded machine.
 */
export const LEAVE_MARGIN_US = 2_000_000;

interface Membership {
  /** The join, and any sent again because no answer came. */
  readonly joins: MemberOp[];
  /** The leave, and any sent again because no answer came. */
  readonly leaves: MemberOp[];
}

/** Members whose memberships of one room came and went: see the rules at the top. */
export function membershipFigures(
  stream: readonly number[],
  broadcasts: ReadonlyMap<number, Broadcast>,
  members: readonly MemberHistory[],
  examples: string[] = [],
): MembershipFigures {
  const position = positions(stream);
  const note = (text: string) => {
    if (examples.length < EXAMPLES) examples.push(text);
  };
  const figures: MembershipFigures = {
    members: members.length,
    joins: 0,
    leaves: 0,
    memberships: 0,
    inAtEnd: 0,
    received: 0,
    duplicated: 0,
    outOfOrder: 0,
    unknown: 0,
    outsideMembership: 0,
    gaps: 0,
    missedAtEnd: 0,
    missedWhileConnected: 0,
    checkedWhileConnected: 0,
    droppedAtLeave: 0,
    receivedBeforeJoinResolved: 0,
  };
  for (const history of members) {
    const { member, ops, received, outages } = history;
    const memberships: Membership[] = [];
    let open: Membership | undefined;
    for (const op of ops) {
      if (op.kind === 'join') {
        figures.joins++;
        if (!open) {
          open = { joins: [], leaves: [] };
          memberships.push(open);
        }
        open.joins.push(op);
      } else {
        figures.leaves++;
        memberships.at(-1)?.leaves.push(op);
        open = undefined;
      }
    }
    figures.memberships += memberships.length;
    if (open) figures.inAtEnd++;

    // Each entry once, in stream order, and only entries of the stream.
    const seen = new Set<number>();
    let highest = -1;
    for (const b of received) {
      figures.received++;
      if (seen.has(b)) {
        figures.duplicated++;
        note(`member ${member}: b=${b} received again`);
        continue;
      }
      seen.add(b);
      const at = position.get(b);
      if (at === undefined) {
        figures.unknown++;
        note(`member ${member}: b=${b} received but not in the stream`);
        continue;
      }
      if (at < highest) {
        figures.outOfOrder++;
        note(`member ${member}: b=${b} received after b=${stream[highest]}`);
      }
      highest = Math.max(highest, at);
    }

    const windows = memberships.map((membership) => window(membership));
    for (const b of seen) {
      const broadcast = broadcasts.get(b);
      if (!broadcast || !position.has(b)) continue;
      const stored = broadcast.stored ?? Number.POSITIVE_INFINITY;
      const around = windows.filter(
        (w) => stored > w.possibleStart && broadcast.from < w.possibleEnd,
      );
      if (around.length === 0) {
        figures.outsideMembership++;
        note(`member ${member}: b=${b} received outside every membership`);
      } else if (around.every((w) => w.certainStart === undefined || stored < w.certainStart)) {
        figures.receivedBeforeJoinResolved++;
      }
    }

    for (const w of windows) {
      if (w.certainStart === undefined) continue;
      const { certainStart, certainEnd } = w;
      // Entries certainly for this membership, in stream order.
      const due = stream.filter((b) => {
        const broadcast = broadcasts.get(b);
        if (!broadcast || broadcast.from <= certainStart) return false;
        if (certainEnd === Number.POSITIVE_INFINITY) return true;
        return broadcast.stored !== undefined && broadcast.stored < certainEnd;
      });
      let last = -1;
      due.forEach((b, i) => {
        if (seen.has(b)) last = i;
      });
      due.forEach((b, i) => {
        if (seen.has(b)) return;
        if (i < last) {
          figures.gaps++;
          note(`member ${member}: b=${b} missed between two received in one membership`);
        } else if (certainEnd === Number.POSITIVE_INFINITY) {
          figures.missedAtEnd++;
          note(`member ${member}: b=${b} missed while in the room at the end`);
        } else {
          figures.droppedAtLeave++;
        }
      });
      if (certainEnd === Number.POSITIVE_INFINITY) continue;
      const connected = !outages.some(([from, to]) => from < certainEnd && to > certainStart);
      if (!connected) continue;
      for (const b of due) {
        const stored = broadcasts.get(b)?.stored;
        if (stored === undefined || stored >= certainEnd - LEAVE_MARGIN_US) continue;
        figures.checkedWhileConnected++;
        if (!seen.has(b)) {
          figures.missedWhileConnected++;
          note(`member ${member}: b=${b} missed though stored well before its leave`);
        }
      }
    }
  }
  return figures;
}

/**
 * The times that bound a membership. Possible: entries appended after the first join was sent
 * and before the last leave call (a leave on a node that died before storing it is repeated
 * where the session resumes) may be received. Certain: entries broadcast after the join
 * resolved (confirmed) and stored before the leave was sent must be, unless the leave cut
 * delivery short.
 */
function window(membership: Membership): {
  possibleStart: number;
  possibleEnd: number;
  certainStart: number | undefined;
  certainEnd: number;
} {
  const { joins, leaves } = membership;
  const possibleStart = Math.min(...joins.map((op) => op.sentAt));
  const confirmed = joins.flatMap((op) => op.confirmed);
  const certainStart = confirmed.length > 0 ? Math.min(...confirmed) : undefined;
  if (leaves.length === 0) {
    return {
      possibleStart,
      possibleEnd: Number.POSITIVE_INFINITY,
      certainStart,
      certainEnd: Number.POSITIVE_INFINITY,
    };
  }
  // Without a report of a call, the answer bounds it; without either, nothing does.
  const ends = leaves.flatMap((op) =>
    op.calls.length > 0 ? op.calls : [op.answeredAt ?? Number.POSITIVE_INFINITY],
  );
  return {
    possibleStart,
    possibleEnd: Math.max(...ends),
    certainStart,
    certainEnd: Math.min(...leaves.map((op) => op.sentAt)),
  };
}

function positions(stream: readonly number[]): Map<number, number> {
  const position = new Map<number, number>();
  for (const [i, b] of stream.entries()) position.set(b, i);
  return position;
}
