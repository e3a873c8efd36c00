/**
 * The shape of vectors/exchanges.json, as vectors/README.md describes it: scripted exchanges
 * with a live server, each a list of steps.
 */
import type { Json, JsonFrame } from './json-frame.js';

/** A number, a `"$variable"`, or a list of those, summed (`["$maxPayloadBytes", 1]`). */
export type NumberExpression = number | string | readonly (number | string)[];

export interface ExchangeFile {
  readonly description?: string;
  /** Values the runner may override (`--param name=value`), with their defaults. */
  readonly parameters?: Readonly<
    Record<string, { readonly default: number; readonly description?: string }>
  >;
  /** What each requirement name means for the server under test. */
  readonly requirements?: Readonly<Record<string, string>>;
  readonly exchanges: readonly Exchange[];
}

export interface Exchange {
  readonly name: string;
  readonly description?: string;
  /** Run only against a server that meets all of these (see `requirements`). */
  readonly requires?: readonly string[];
  readonly steps: readonly Step[];
}

interface OnSocket {
  /** The connection the step acts on (its `connect.as`); default the latest one opened. */
  readonly on?: string;
}

interface Waiting extends OnSocket {
  /** Frame types passed over while waiting; default `["probe"]` unless a probe is expected. */
  readonly skip?: readonly string[];
  /** Default: the runner's step timeout. */
  readonly timeoutMs?: NumberExpression;
}

export interface ConnectStep {
  readonly connect: {
    /** Name for `on` in later steps. */
    readonly as?: string;
    /** Replaces the path (and query) of the URL under test. */
    readonly path?: string;
    readonly headers?: Readonly<Record<string, string>>;
    /** The upgrade must be refused with this HTTP status instead of opening. */
    readonly refused?: number;
    /** Response headers of the upgrade, by lower-case name; null: must be absent. */
    readonly responseHeaders?: Readonly<Record<string, string | null>>;
  };
}

export interface SendStep extends OnSocket {
  readonly send: JsonFrame;
}
export interface SendHexStep extends OnSocket {
  readonly sendHex: string;
}
export interface SendTextStep extends OnSocket {
  readonly sendText: string;
}
export interface SendZerosStep extends OnSocket {
  /** A binary message of this many zero bytes. */
  readonly sendZeros: NumberExpression;
}

export interface ExpectStep extends Waiting {
  /** `type` and the fields to check; unlisted fields are not checked. */
  readonly expect: { readonly type: string; readonly [field: string]: Json };
  /**
   * Pass over frames of the expected type whose fields do not match, as well: for cumulative
   * acks, which a server may split (`ack 2` then `ack 3`).
   */
  readonly untilMatch?: boolean;
  /** Variables to set from fields of the frame: `{ "variable": "field" }`. */
  readonly bind?: Readonly<Record<string, string>>;
}

export interface ExpectCloseStep extends Waiting {
  /** The WebSocket close; a GOODBYE received first must carry the same code. */
  readonly expectClose: { readonly code: number; readonly reason?: string };
}

export interface CloseStep extends OnSocket {
  /** Closes the WebSocket without a GOODBYE and waits until it is closed. */
  readonly close: { readonly code?: number; readonly reason?: string };
}

export interface WaitStep {
  readonly wait: NumberExpression;
}

export interface RepeatStep {
  readonly repeat: number;
  readonly steps: readonly Step[];
}

export type Step =
  | ConnectStep
  | SendStep
  | SendHexStep
  | SendTextStep
  | SendZerosStep
  | ExpectStep
  | ExpectCloseStep
  | CloseStep
  | WaitStep
  | RepeatStep;
