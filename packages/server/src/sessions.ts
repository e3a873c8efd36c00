import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  closeCodeName,
  encode,
  endsSession,
  FrameType,
  PROTOCOL_VERSION,
  ProtocolError,
  type ResumeRequest,
} from '@probe/protocol';
import type { AckBatcher } from './ack-batcher.js';
import type { Connection } from './connection.js';
import { EndedSessions } from './ended-sessions.js';
import type { CloseReason, ResumeInfo, SessionInfo, SuspendReason } from './events.js';
import { Memberships } from './memberships.js';
import type { ResolvedServerOptions } from './options.js';
import type { TimerWheel } from './scheduler.js';
import {
  closedSession,
  createSession,
  deliverTo,
  emitSessionEvent,
  type Session,
} from './session.js';
import { CLOSE_CODES, type CoreEvents, type CoreHost, SessionCore } from './session-core.js';
import { type LoadedSession, type SessionRecord, type SessionStore, StoreError } from './store.js';
import { hashToken, randomToken, tokenMatches } from './tokens.js';

/** What the registry needs from the server. */
export interface RegistryHost {
  readonly options: ResolvedServerOptions<unknown>;
  readonly wheel: TimerWheel;
  readonly acks: AckBatcher;
  readonly now: () => number;
  readonly store: SessionStore | null;
  readonly nodeId: string;
  readonly closing: boolean;
  opened(session: Session, info: SessionInfo): void;
  /** Told what happens to each session before its application is (logs, metrics); or null. */
  readonly observer: SessionObserver | null;
  connectionError(connection: Connection, code: string, closeCode: number, message: string): void;
  reportError(error: unknown): void;
}

/** What happens to a session after it opened, for logs and metrics. */
export interface SessionObserver {
  suspended(session: Session, reason: SuspendReason): void;
  resumed(session: Session, info: ResumeInfo): void;
  closed(session: Session, reason: CloseReason): void;
}

/** Loads and claims tried per resume before the client is told to try again (4005). */
const MAX_CLAIM_ATTEMPTS = 3;

/** In-memory ids: `<node id>.<random>`, so a restarted server can say the id is not its own. */
const MEMORY_ID = /^[A-Za-z0-9_-]{12}\.[A-Za-z0-9_-]{43}$/;

/**
 * The sessions this node serves, and the one place that binds a connection to a session:
 * opening new sessions, resuming (locally or by taking a session over from another node),
 * and letting go of sessions another node takes over.
 */
export class SessionRegistry implements CoreHost {
  readonly local = new Map<string, SessionCore>();
  readonly memberships: Memberships;
  /** New sessions being stored, counted against maxSessions until they are local. */
  private opening = 0;
  private readonly ended = new EndedSessions();
  constructor(private readonly host: RegistryHost) {
    this.memberships = new Memberships(this);
  }

  get rooms() {
    return this.memberships.rooms;
  }

  get options() {
    return this.host.options;
  }
  get wheel() {
    return this.host.wheel;
  }
  get acks() {
    return this.host.acks;
  }
  get now() {
    return this.host.now;
  }
  get store() {
    return this.host.store;
  }

  facade(core: SessionCore): Session | undefined {
    return core.facade;
  }

  connectionError(connection: Connection, code: string, closeCode: number, message: string): void {
    this.host.connectionError(connection, code, closeCode, message);
  }

  reportError(error: unknown): void {
    this.host.reportError(error);
  }

  left(core: SessionCore, reason: CloseReason): void {
    if (this.local.get(core.id) === core) this.local.delete(core.id);
    this.memberships.forget(core);
    if (this.store === null) this.ended.add(core.id, CLOSE_CODES[reason]);
    core.facade.removeAllListeners();
  }

  /** Opens a new session for `data` on `connection`. */
  async open(connection: Connection, data: unknown): Promise<void> {
    const { store, options } = this.host;
    if (this.local.size + this.opening >= options.maxSessions) {
      refuse(this, connection, 'server-full', CloseCode.TRY_AGAIN_LATER, 'server is full');
      return;
    }
    const random = randomToken();
    const id = store === null ? `${this.host.nodeId}.${random}` : random;
    const token = randomToken();
    const record: SessionRecord = {
      id,
      data,
      tokenHash: null,
      pendingTokenHash: hashToken(token),
      inSeq: 0,
      outSeq: 0,
      ackedSeq: 0,
      rooms: [],
      roomCursors: {},
      owner: this.host.nodeId,
      epoch: 1,
      version: 0,
      redeliverUpTo: 0,
      held: true,
      createdAt: Date.now(),
    };
    if (store !== null) {
      // Stored before the welcome: a client never holds a session no node can resume. The
      // slot is held meanwhile, so concurrent hellos cannot pass maxSessions.
      this.opening++;
      const created = await this.storeStep(connection, () => store.create(record)).finally(() => {
        this.opening--;
      });
      if (created === false) return;
      if (!connection.isWelcoming) {
        await store.end(id, record.epoch, CloseCode.SESSION_UNKNOWN).catch(() => {});
        return;
      }
    }
    const core = this.adopt(record, connection);
    this.local.set(id, core);
    // Just stored under this node's lease: owned without a check.
    if (store !== null) core.checkedLease = store.lease();
    if (!this.welcome(connection, core, token, false)) return;
    core.attach(connection, null);
    this.host.opened(core.facade, { moved: false });
  }

  /** Resumes the session `request` names on `connection`, taking it over if need be. */
  async resume(connection: Connection, request: ResumeRequest): Promise<void> {
    // A claim fails when the session changed between loading and claiming it (its owner
    // wrote, or another node claimed it): load again and retry, a few times.
    for (let attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
      if ((await this.tryResume(connection, request)) !== 'changed') return;
      if (!connection.isWelcoming) return;
    }
    refuse(this, connection, 'resume-refused', CloseCode.SESSION_MOVED, 'session is moving');
  }

  private async tryResume(
    connection: Connection,
    request: ResumeRequest,
  ): Promise<'done' | 'changed'> {
    const { store } = this.host;
    const id = request.sessionId;
    let local = this.local.get(id);
    let loaded: LoadedSession | null = null;
    if (store === null) {
      if (!local) return this.refuseUnknown(connection, id, this.ended.get(id));
    } else {
      const found = await this.load(connection, id);
      if (found === null) return 'done';
      loaded = found;
    }
    if (!connection.isWelcoming) return 'done';
    const record = loaded?.record ?? local!.record;
    if (!tokenAccepted(record, request.token)) {
      // The session itself is untouched: a wrong guess must not disturb its owner.
      refuse(this, connection, 'resume-refused', CloseCode.TOKEN_INVALID, 'invalid resume token');
      return 'done';
    }
    if (!(await this.allowed(connection, record))) return 'done';
    if (store !== null && loaded !== null) {
      // A local copy whose epoch the store moved past is stale: this node was fenced.
      if (local && (local.record.epoch !== record.epoch || record.owner !== this.host.nodeId)) {
        local.abandon();
        local = undefined;
      }
      if (!local && record.held && record.owner !== this.host.nodeId) {
        if (!(await store.release(record, this.options.handoverTimeoutMs))) {
          // Its owner is alive but silent: the client tries again shortly (retryable).
          const message = 'session is still held by a node that did not let go';
          refuse(this, connection, 'resume-refused', CloseCode.SESSION_MOVED, message);
          return 'done';
        }
        const again = await this.load(connection, id);
        if (again === null) return 'done';
        loaded = again;
      }
    }
    if (!connection.isWelcoming) return 'done';
    const core = local ?? this.restore(loaded!, request, connection);
    // With a shared store the limit is counted in the store, across nodes, by the claim.
    if (store === null && !core.resumes.hit(this.now())) {
      refuse(this, connection, 'resume-refused', CloseCode.TRY_AGAIN_LATER, 'too many resumes');
      return 'done';
    }
    try {
      // Checks the client's positions and drops what it has (the replay is taken at attach).
      core.delivery.resume(request.lastSeq, request.sentSeq);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // Final for this client's state, which cannot be reconciled; the session is untouched.
      refuse(this, connection, 'bad-sequence', CloseCode.PROTOCOL_ERROR, error.message);
      if (!local) this.discard(core);
      return 'done';
    }
    const token = randomToken();
    const tokens = { tokenHash: hashToken(request.token), pendingTokenHash: hashToken(token) };
    if (store !== null) {
      const claimed = { ...tokens, redeliverUpTo: core.redeliverUpTo };
      const limit = this.options.maxResumesPerMinute;
      // This node's own copy is ahead of the store, not behind it: only the epoch must match.
      const expected = { epoch: core.record.epoch, version: local ? null : core.record.version };
      const claiming = this.storeStep(connection, () =>
        store.claim(id, expected, this.host.nodeId, claimed, limit),
      );
      // This node keeps serving its own copy meanwhile: writes issued from now on reach Redis
      // after the claim, so they carry the epoch a successful claim sets.
      if (local) core.record.epoch = expected.epoch + 1;
      const epoch = await claiming;
      if (epoch === false) return 'done';
      if (epoch === 'too-many' || epoch === 'conflict') {
        if (local) local.abandon();
        else this.discard(core);
        if (epoch === 'conflict') return 'changed';
        refuse(this, connection, 'resume-refused', CloseCode.TRY_AGAIN_LATER, 'too many resumes');
        return 'done';
      }
      Object.assign(core.record, {
        epoch,
        owner: this.host.nodeId,
        held: true,
        redeliverUpTo: core.redeliverUpTo,
      });
      // Served here from now on: only now does it count among this node's sessions (a send
      // before the claim would be written under the previous owner's epoch).
      this.local.set(id, core);
      core.checkedLease = store.lease();
    }
    Object.assign(core.record, tokens);
    core.connection?.release(CloseCode.SESSION_TAKEN_OVER, 'session resumed on another connection');
    core.connection = null;
    if (!this.welcome(connection, core, token, true)) {
      if (core.state === 'open') core.suspend('closed');
      return 'done';
    }
    const replayed = core.attach(connection, request.lastSeq);
    if (!local) {
      this.memberships.arrived(core);
      this.host.opened(core.facade, { moved: true });
    }
    const { facade } = core;
    const info: ResumeInfo = {
      replayedToClient: replayed,
      replayedFromClient: request.sentSeq - core.delivery.inbound.lastSeq,
    };
    this.host.observer?.resumed(facade, info);
    emitSessionEvent(facade, this.report, 'resume', info);
    return 'done';
  }

  /** The stored session, or null when the connection was refused (unknown, ended, store down). */
  private async load(connection: Connection, id: string): Promise<LoadedSession | null> {
    const store = this.host.store!;
    const found = await this.storeStep(connection, () => store.load(id));
    if (found === false) return null;
    if (found === null || 'endedWith' in found) {
      this.refuseUnknown(connection, id, found?.endedWith);
      return null;
    }
    return found;
  }

  /** Another node takes a session over: let go of it here. */
  async release(id: string): Promise<void> {
    await this.local.get(id)?.release(CloseCode.SESSION_MOVED, 'session moved to another node');
  }

  /** Runs a store step; a store failure refuses the connection (retryable) and yields false. */
  private async storeStep<T>(connection: Connection, step: () => Promise<T>): Promise<T | false> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      this.host.connectionError(
        connection,
        'store-unavailable',
        CloseCode.TRY_AGAIN_LATER,
        error.message,
      );
      connection.closeWith(CloseCode.TRY_AGAIN_LATER, 'session store unavailable');
      return false;
    }
  }

  /** Lifetime and `authorizeResume`: false (connection refused, session ended) when refused. */
  private async allowed(connection: Connection, record: SessionRecord): Promise<boolean> {
    const { maxSessionLifetimeMs, authorizeResume } = this.options;
    let reason: CloseReason | null = null;
    if (Date.now() - record.createdAt > maxSessionLifetimeMs) reason = 'expired';
    else if (authorizeResume) {
      try {
        const upgrade = connection.request as IncomingMessage;
        if ((await authorizeResume(record.data, upgrade)) === false) reason = 'revoked';
      } catch (error) {
        this.host.connectionError(
          connection,
          'unauthorized',
          CloseCode.UNAUTHORIZED,
          String(error),
        );
        reason = 'revoked';
      }
    }
    if (reason === null) return true;
    const code = CLOSE_CODES[reason];
    refuse(this, connection, 'resume-refused', code, `session ${reason}`);
    const local = this.local.get(record.id);
    if (local) local.end(reason);
    else await this.store?.end(record.id, record.epoch, code).catch(() => {});
    return false;
  }

  /** Builds the local core of a session loaded from the store. */
  private restore(
    loaded: LoadedSession,
    request: ResumeRequest,
    connection: Connection,
  ): SessionCore {
    const core = this.adopt(loaded.record, connection);
    core.restore(loaded.frames);
    // The previous owner did not let go: it may have delivered client messages it never
    // stored. Those the client now replays (up to what it had sent) are marked, and so are
    // any an earlier takeover marked that were not delivered since.
    const { held, redeliverUpTo } = loaded.record;
    core.redeliverUpTo = held ? Math.max(redeliverUpTo, request.sentSeq) : redeliverUpTo;
    return core;
  }

  /** Reports an application handler's error (one function for every session). */
  private readonly report = (error: unknown): void => this.reportError(error);

  /** What every core of this node reports to: one object, so a session costs no closures. */
  private readonly coreEvents: CoreEvents = {
    message: (core, frame, redelivered) =>
      deliverTo(core.facade, frame, { seq: frame.seq, redelivered }),
    suspend: (core, reason) => {
      this.host.observer?.suspended(core.facade, reason);
      emitSessionEvent(core.facade, this.report, 'suspend', reason);
    },
    drain: (core) => emitSessionEvent(core.facade, this.report, 'drain'),
    close: (core, reason) => {
      closedSession(core.facade);
      this.host.observer?.closed(core.facade, reason);
      emitSessionEvent(core.facade, this.report, 'close', reason);
    },
  };

  private adopt(record: SessionRecord, connection: Connection): SessionCore {
    const core = new SessionCore(record, this, this.coreEvents);
    core.facade = createSession({
      core,
      rooms: this.memberships,
      report: this.report,
      address: connection.remoteAddress,
      headers: keptHeaders(connection.request, this.options.keepHeaders),
    });
    return core;
  }

  /** Drops a core built for a resume that did not happen. */
  private discard(core: SessionCore): void {
    if (this.local.get(core.id) === core) this.local.delete(core.id);
    this.memberships.forget(core);
  }

  private refuseUnknown(connection: Connection, id: string, endedWith: number | undefined): 'done' {
    let code: number = CloseCode.SESSION_UNKNOWN;
    let message = 'unknown session';
    if (endedWith !== undefined && endsSession(endedWith)) {
      // Its own code already tells a client to start afresh (expired, buffer overflow).
      code = endedWith;
      message = `session ended (${closeCodeName(endedWith).toLowerCase().replaceAll('_', '-')})`;
    } else if (endedWith !== undefined) {
      code = CloseCode.SESSION_ENDED;
      message = `session ended (${closeCodeName(endedWith).toLowerCase().replaceAll('_', '-')})`;
    } else if (
      this.store === null &&
      MEMORY_ID.test(id) &&
      !id.startsWith(`${this.host.nodeId}.`)
    ) {
      code = CloseCode.SERVER_RESTARTED;
      message = 'session belongs to a server instance that is gone';
    }
    refuse(this, connection, 'resume-refused', code, message);
    return 'done';
  }

  /** Sends the welcome; false when the connection went away meanwhile. */
  private welcome(
    connection: Connection,
    core: SessionCore,
    token: string,
    resumed: boolean,
  ): boolean {
    if (this.host.closing || !connection.isWelcoming) return false;
    const { probeIntervalMs, probeTimeoutMs, maxPayloadBytes } = this.options;
    connection.send(
      encode({
        type: FrameType.WELCOME,
        version: PROTOCOL_VERSION,
        sessionId: core.id,
        token,
        probeIntervalMs,
        probeTimeoutMs,
        maxPayloadBytes,
        resumed,
        lastSeq: core.delivery.inbound.lastSeq,
        sentSeq: core.delivery.outbound.lastSeq,
      }),
    );
    connection.opened(core);
    return connection.isOpen;
  }
}

function tokenAccepted(record: SessionRecord, token: string): boolean {
  // Constant time, and both comparisons always run.
  const confirmed = tokenMatches(token, record.tokenHash);
  const pending = tokenMatches(token, record.pendingTokenHash);
  return confirmed || pending;
}

function refuse(
  registry: SessionRegistry,
  connection: Connection,
  code: string,
  closeCode: number,
  message: string,
): void {
  registry.connectionError(connection, code, closeCode, message);
  connection.closeWith(closeCode, message);
}

/** What a session keeps of its request headers when `keepHeaders` names none: shared. */
const NO_HEADERS: Readonly<Record<string, string | string[] | undefined>> = Object.freeze({});

function keptHeaders(
  request: IncomingMessage | undefined,
  names: readonly string[],
): Readonly<Record<string, string | string[] | undefined>> {
  if (!request || names.length === 0) return NO_HEADERS;
  const kept: Record<string, string | string[] | undefined> = {};
  for (const name of names) kept[name] = request.headers[name.toLowerCase()];
  return kept;
}
