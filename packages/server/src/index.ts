export { CloseCode, isRetryableClose, ProbeError, ProtocolError } from '@probe/protocol';
export type { Transport } from './connection.js';
export type { CloseReason, ConnectionErrorInfo, ResumeInfo, SuspendReason } from './events.js';
export type { Authenticate, ProbeServerOptions } from './options.js';
export type { SchedulerStats } from './scheduler.js';
export { ProbeServer, type ServerEvents, type ServerStats } from './server.js';
export { Session, type SessionEvents, type SessionState } from './session.js';
export { MemorySessionStore, type SessionStore } from './session-store.js';
