/**
 * Types only: the named events and requests a client and a server exchange, declared once and
 * shared by both sides so `emit`, `on`, `request` and `handle` are checked at compile time.
 *
 * @example
 * type Chat = DefineSchema<{
 *   clientEvents: { 'chat:post': { room: string; text: string } };
 *   serverEvents: { 'chat:line': { room: string; text: string; from: string } };
 *   clientRequests: { 'chat:history': (query: { room: string }) => string[] };
 * }>;
 * const client = new ProbeClient<unknown, unknown, Chat>(url);
 * const server = new ProbeServer<unknown, unknown, unknown, Chat>();
 */
export interface ProbeSchema {
  /** Events the client emits and sessions receive: name → payload. */
  clientEvents: object;
  /** Events sessions (and broadcasts) emit and the client receives: name → payload. */
  serverEvents: object;
  /** Requests the client makes and sessions answer: name → `(payload) => reply`. */
  clientRequests: object;
  /** Requests sessions make and the client answers: name → `(payload) => reply`. */
  serverRequests: object;
}

// biome-ignore lint/suspicious/noExplicitAny: a request of any payload
type AnyRequest = (payload: any) => unknown;

/**
 * Any name, payloads and replies unknown: for code that does not declare its events (the
 * default, {@link NoSchema}, allows none, so a misspelt event name does not compile).
 */
export interface UntypedSchema extends ProbeSchema {
  clientEvents: Record<string, unknown>;
  serverEvents: Record<string, unknown>;
  clientRequests: Record<string, AnyRequest>;
  serverRequests: Record<string, AnyRequest>;
}

/** A {@link ProbeSchema} from the parts given; a part left out allows no name at all. */
export type DefineSchema<T extends Partial<ProbeSchema>> = {
  [K in keyof ProbeSchema]: K extends keyof T ? T[K] : Record<never, never>;
};

/** The names of `map` (events or requests of one direction). */
export type NameOf<M> = Extract<keyof M, string>;

/** The payload a request named `K` takes. */
export type RequestPayload<M, K extends keyof M> = M[K] extends (payload: infer P) => unknown
  ? P
  : never;

/** What a request named `K` resolves with. */
export type RequestReply<M, K extends keyof M> = M[K] extends (payload: never) => infer R
  ? Awaited<R>
  : never;

/** The listener arguments of each event of `M` not reserved by `Own` (the peer's own events). */
export type EventArgs<M, Own, Extra extends unknown[] = []> = {
  [K in Exclude<NameOf<M>, keyof Own>]: [payload: M[K], ...extra: Extra];
};

/** The schema when none is given: no named events or requests (plain messages only). */
export type NoSchema = DefineSchema<Record<never, never>>;
