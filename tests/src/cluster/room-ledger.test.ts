import { describe, expect, it } from 'vitest';
import {
  type Broadcast,
  LEAVE_MARGIN_US,
  type MemberHistory,
  type MemberOp,
  membershipFigures,
  roomOrderFigures,
} from './room-ledger.js';

const broadcasts = (...list: Broadcast[]) => new Map(list.map((b) => [b.b, b]));

describe('room ledger: members in the room throughout', () => {
  const all = broadcasts(
    { b: 1, from: 10, stored: 11 },
    { b: 2, from: 12, stored: 13 },
    { b: 3, from: 14, stored: 15 },
    { b: 4, from: 16 },
    { b: 5, from: 17 },
  );

  it('finds nothing wrong when every member has exactly the stream', () => {
    // 4 reached the stream although its node died first; 5 did not.
    const stream = [2, 1, 3, 4];
    expect(roomOrderFigures(stream, all, [stream, stream])).toEqual({
      members: 2,
      published: 3,
      uncertain: 2,
      uncertainInStream: 1,
      streamLength: 4,
      missingFromStream: 0,
      unexpectedInStream: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      unknown: 0,
      membersOffRoomOrder: 0,
      uncertainSplit: 0,
    });
  });

  it('counts lost, repeated, reordered and unknown messages, and split uncertain ones', () => {
    const stream = [1, 2, 3, 4];
    const examples: string[] = [];
    const figures = roomOrderFigures(
      stream,
      all,
      [
        [1, 2, 3, 4],
        [1, 3, 2, 2, 9],
      ],
      examples,
    );
    expect(figures).toMatchObject({
      lost: 1,
      duplicated: 1,
      outOfOrder: 1,
      unknown: 1,
      membersOffRoomOrder: 1,
      uncertainSplit: 1,
    });
    expect(examples.length).toBeGreaterThan(0);
  });

  it('checks the stream against what was stored and what was asked for', () => {
    expect(roomOrderFigures([1, 3, 7], all, [])).toMatchObject({
      missingFromStream: 1,
      unexpectedInStream: 1,
    });
  });
});

const op = (j: number, kind: 'join' | 'leave', sentAt: number, more: Partial<MemberOp> = {}) =>
  ({
    j,
    kind,
    sentAt,
    calls: [sentAt + 1],
    confirmed: [],
    answeredAt: sentAt + 5,
    ...more,
  }) as MemberOp;

describe('room ledger: members joining and leaving', () => {
  // Joined (sent 10, resolved 20), left (sent 100, called 105).
  const ops = [op(1, 'join', 10, { confirmed: [20] }), op(2, 'leave', 100, { calls: [105] })];
  const list = broadcasts(
    { b: 1, from: 5, stored: 8 }, // stored before the join was sent
    { b: 2, from: 30, stored: 35 },
    { b: 3, from: 40, stored: 45 },
    { b: 4, from: 200, stored: 210 }, // after the leave
    { b: 5, from: 15, stored: 16 }, // between the join call and its resolution
  );
  const stream = [1, 5, 2, 3, 4];
  const history = (received: number[], more: Partial<MemberHistory> = {}): MemberHistory => ({
    member: 0,
    ops,
    received,
    outages: [],
    ...more,
  });
  const figures = (received: number[], more: Partial<MemberHistory> = {}) =>
    membershipFigures(stream, list, [history(received, more)]);

  it('finds nothing wrong in what a member may and must receive', () => {
    expect(figures([2, 3])).toMatchObject({
      memberships: 1,
      inAtEnd: 0,
      duplicated: 0,
      outOfOrder: 0,
      outsideMembership: 0,
      gaps: 0,
      missedAtEnd: 0,
      droppedAtLeave: 0,
    });
    // Appended between the join call and its resolution: either way is right.
    expect(figures([5, 2, 3])).toMatchObject({
      outsideMembership: 0,
      receivedBeforeJoinResolved: 1,
    });
  });

  it('flags messages from outside the membership, repeats and reordering', () => {
    expect(figures([1, 2, 3]).outsideMembership).toBe(1);
    expect(figures([2, 3, 4]).outsideMembership).toBe(1);
    expect(figures([2, 2, 3]).duplicated).toBe(1);
    expect(figures([3, 2]).outOfOrder).toBe(1);
  });

  it('tells a gap from entries cut short by the leave', () => {
    expect(figures([3])).toMatchObject({ gaps: 1, droppedAtLeave: 0 });
    expect(figures([2])).toMatchObject({ gaps: 0, droppedAtLeave: 1 });
  });

  it('requires everything after the join of a member still in the room', () => {
    const stays = [op(1, 'join', 10, { confirmed: [20] })];
    const result = membershipFigures(stream, list, [
      { member: 0, ops: stays, received: [2, 3], outages: [] },
    ]);
    expect(result).toMatchObject({ inAtEnd: 1, missedAtEnd: 1 });
    // A broadcast whose node died before its append returned counts once it is in the stream.
    const uncertain = broadcasts(...list.values(), { b: 6, from: 300 });
    expect(
      membershipFigures([...stream, 6], uncertain, [
        { member: 0, ops: stays, received: [2, 3, 4], outages: [] },
      ]).missedAtEnd,
    ).toBe(1);
  });

  it('requires what was stored well before the leave of a member that stayed connected', () => {
    const long = [
      op(1, 'join', 1_000, { confirmed: [2_000] }),
      op(2, 'leave', 10_000_000, { calls: [10_000_100] }),
    ];
    const early = broadcasts(
      { b: 1, from: 3_000, stored: 3_100 },
      { b: 2, from: 4_000, stored: 4_100 },
    );
    const member = { member: 0, ops: long, received: [] as number[] };
    expect(membershipFigures([1, 2], early, [{ ...member, outages: [] }])).toMatchObject({
      missedWhileConnected: 2,
      checkedWhileConnected: 2,
    });
    // Disconnected meanwhile: only the order rules apply.
    expect(
      membershipFigures([1, 2], early, [{ ...member, outages: [[5_000, 6_000]] }]),
    ).toMatchObject({ missedWhileConnected: 0, checkedWhileConnected: 0, droppedAtLeave: 2 });
    expect(LEAVE_MARGIN_US).toBeLessThan(10_000_000);
  });

  it('takes a join or leave sent again as part of the same membership', () => {
    const again = [
      op(1, 'join', 10, { calls: [], answeredAt: undefined }),
      op(2, 'join', 25, { confirmed: [28] }),
      op(3, 'leave', 100, { calls: [105] }),
      op(4, 'leave', 150, { calls: [160] }),
    ];
    const result = membershipFigures(stream, list, [
      { member: 0, ops: again, received: [2, 3], outages: [] },
    ]);
    expect(result).toMatchObject({ joins: 2, leaves: 2, memberships: 1, outsideMembership: 0 });
  });
});
