import { describe, expect, it } from 'vitest';
import { type Delivery, downFigures, type Echo, upFigures } from './ledger.js';

let clock = 0;
const at = (n: number, redelivered = false, node = 'a'): Delivery => ({
  n,
  redelivered,
  node,
  at: ++clock,
});
const echo = (n: number, redelivered = false): Echo => ({ n, redelivered });

describe('cluster ledger', () => {
  it('finds nothing wrong in exact delivery', () => {
    expect(upFigures(3, [at(1), at(2), at(3)])).toEqual({
      sent: 3,
      lost: 0,
      unmarkedDuplicates: 0,
      reordered: 0,
      markedRedeliveries: 0,
    });
    expect(downFigures(3, [echo(1), echo(2), echo(3)])).toMatchObject({ lost: 0, reordered: 0 });
  });

  it('client→server: counts lost n, unmarked repeats and first deliveries out of order', () => {
    const deliveries = [at(1), at(3), at(2), at(3, true, 'b'), at(3, false, 'b'), at(5)];
    expect(upFigures(6, deliveries)).toEqual({
      sent: 6,
      lost: 2,
      unmarkedDuplicates: 1,
      reordered: 1,
      markedRedeliveries: 1,
    });
  });

  it('client→server: orders reports by when they happened, not by when they arrived', () => {
    const first = at(1, false, 'a');
    const second = at(2, false, 'b');
    expect(upFigures(2, [second, first])).toMatchObject({ reordered: 0, lost: 0 });
  });

  it('server→client: marked repeats are allowed and do not count as reordering', () => {
    const echoes = [echo(1), echo(2), echo(3), echo(2, true), echo(3, true), echo(4)];
    expect(downFigures(4, echoes)).toEqual({
      sent: 4,
      lost: 0,
      unmarkedDuplicates: 0,
      reordered: 0,
      markedRedeliveries: 2,
    });
  });

  it('server→client: counts lost n, unmarked repeats and unmarked echoes out of order', () => {
    const echoes = [echo(1), echo(3), echo(2), echo(3), echo(5, true), echo(4)];
    expect(downFigures(6, echoes)).toEqual({
      sent: 6,
      lost: 1,
      unmarkedDuplicates: 1,
      // 2 after 3; 4 after the marked 5 is in order, marked echoes do not set the bar.
      reordered: 1,
      markedRedeliveries: 0,
    });
  });
});
