// What a cluster node process tells the test over IPC.

/** The node listens and serves. */
export interface ReadyReport {
  readonly ready: true;
  readonly port: number;
  readonly nodeId: string;
}

/** The node handed client `delivered`'s message `n` to the application. */
export interface DeliveryReport {
  /** The client's index. */
  readonly delivered: number;
  readonly n: number;
  readonly redelivered: boolean;
  readonly node: string;
  /** When, in µs on the machine's monotonic clock, so reports from several nodes can be ordered. */
  readonly at: number;
}

/** A session started on the node (a new one, or one that moved here from another node). */
export interface SessionReport {
  readonly session: string;
  readonly moved: boolean;
  readonly node: string;
}

/** The server emitted 'error'. */
export interface ErrorReport {
  readonly error: string;
  readonly node: string;
}

export type NodeReport = ReadyReport | DeliveryReport | SessionReport | ErrorReport;

/** The client messages the cluster suite sends: client index `c`, then n = 1, 2, 3… */
export interface NumberedMessage {
  readonly c: number;
  readonly n: number;
}

/** What the node application sends back for every delivery, redelivered ones included. */
export interface EchoMessage {
  readonly echo: number;
  readonly redelivered: boolean;
}
