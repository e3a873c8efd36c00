// What one client sent and what came of it, both ways, and the figures that say whether
// delivery across nodes was exact: nothing lost, no duplicate the application was not told
// about, nothing out of order.

/** One hand-over of a client message to the application, as a node reported it. */
export interface Delivery {
  readonly n: number;
  readonly redelivered: boolean;
  /** Id of the node that delivered it. */
  readonly node: string;
  /** When, in µs on the machine's monotonic clock (the same for every process). */
  readonly at: number;
}

/** One echo the client received. */
export interface Echo {
  readonly n: number;
  readonly redelivered: boolean;
}

export interface DirectionFigures {
  /** Messages sent (client→server: by the client; server→client: echoes owed, one per n). */
  sent: number;
  /** n never delivered (client→server) or never echoed (server→client). */
  lost: number;
  /** Repeats of an n that did not carry `redelivered: true`. */
  unmarkedDuplicates: number;
  /** First (client→server) or unmarked (server→client) arrivals below one seen before. */
  reordered: number;
  /** Repeats marked `redelivered`: allowed, reported for information. */
  markedRedeliveries: number;
}

export function emptyDirection(): DirectionFigures {
  return { sent: 0, lost: 0, unmarkedDuplicates: 0, reordered: 0, markedRedeliveries: 0 };
}

export function addDirection(total: DirectionFigures, part: DirectionFigures): void {
  for (const key of Object.keys(total) as (keyof DirectionFigures)[]) total[key] += part[key];
}

/** Counts how many of 1…sent are missing from `seen`. */
function missing(sent: number, seen: ReadonlySet<number>): number {
  let lost = 0;
  for (let n = 1; n <= sent; n++) if (!seen.has(n)) lost++;
  return lost;
}

/** At most this many examples of each kind of fault per direction and client. */
const EXAMPLES = 3;

/**
 * Client→server figures from the nodes' delivery reports. Reports from different nodes reach
 * the test over different pipes, so they are put in the order they happened (`at`) first.
 * Each unmarked duplicate and reordering is described in `examples` (a few per call).
 */
export function upFigures(
  sent: number,
  deliveries: readonly Delivery[],
  examples: string[] = [],
): DirectionFigures {
  const ordered = [...deliveries].sort((a, b) => a.at - b.at);
  const first = new Map<number, Delivery>();
  const figures = { ...emptyDirection(), sent };
  const note = (text: string) => {
    if (figures.unmarkedDuplicates + figures.reordered <= EXAMPLES) examples.push(text);
  };
  let highest = 0;
  for (const delivery of ordered) {
    const { n, redelivered, node, at } = delivery;
    const earlier = first.get(n);
    if (earlier) {
      if (redelivered) {
        figures.markedRedeliveries++;
      } else {
        figures.unmarkedDuplicates++;
        note(
          `n=${n} delivered by ${earlier.node}${earlier.redelivered ? ' (marked)' : ''}, ` +
            `again unmarked by ${node} ${Math.round((at - earlier.at) / 1000)} ms later`,
        );
      }
      continue;
    }
    first.set(n, delivery);
    if (n < highest) {
      figures.reordered++;
      note(`n=${n} first delivered by ${node} after n=${highest}`);
    }
    highest = Math.max(highest, n);
  }
  figures.lost = missing(sent, new Set(first.keys()));
  return figures;
}

/** Server→client figures from the echoes, in the order the client received them. */
export function downFigures(
  sent: number,
  echoes: readonly Echo[],
  examples: string[] = [],
): DirectionFigures {
  const seen = new Set<number>();
  const figures = { ...emptyDirection(), sent };
  const note = (text: string) => {
    if (figures.unmarkedDuplicates + figures.reordered <= EXAMPLES) examples.push(text);
  };
  let highestUnmarked = 0;
  for (const [index, { n, redelivered }] of echoes.entries()) {
    if (seen.has(n)) {
      if (redelivered) {
        figures.markedRedeliveries++;
      } else {
        figures.unmarkedDuplicates++;
        note(`echo n=${n} received again unmarked (echo #${index + 1})`);
      }
      continue;
    }
    seen.add(n);
    if (redelivered) continue;
    if (n < highestUnmarked) {
      figures.reordered++;
      note(`echo n=${n} received after n=${highestUnmarked}`);
    }
    highestUnmarked = Math.max(highestUnmarked, n);
  }
  figures.lost = missing(sent, seen);
  return figures;
}
