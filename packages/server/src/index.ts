export {
  CloseCode,
  type DefineSchema,
  isRetryableClose,
  type NoSchema,
  ProbeError,
  type ProbeSchema,
  ProtocolError,
  RequestError,
  type RequestOptions,
  type UntypedSchema,
} from '@probe/protocol';
export type { Transport } from './connection.js';
export type {
  CloseReason,
  ConnectionErrorInfo,
  MessageInfo,
  ResumeInfo,
  SessionInfo,
  SuspendReason,
} from './events.js';
export type { LogFn, Logger } from './logger.js';
export type {
  AllowOrigin,
  Authenticate,
  AuthorizeResume,
  ProbeServerOptions,
} from './options.js';
export type { SchedulerStats } from './scheduler.js';
export {
  type BroadcastOptions,
  ProbeServer,
  type ServerEvents,
  type ServerRooms,
  type ServerStats,
} from './server.js';
export {
  type SendOptions,
  Session,
  type SessionEvents,
  type SessionInit,
  type SessionRequestHandler,
  type SessionState,
} from './session.js';
export {
  compareEntryIds,
  type EndedSession,
  type LoadedSession,
  type RoomEntry,
  type RoomListener,
  type RoomRead,
  type SessionChanges,
  type SessionRecord,
  type SessionStore,
  StoreError,
  type StoreErrorCode,
  type StoreNode,
} from './store.js';
