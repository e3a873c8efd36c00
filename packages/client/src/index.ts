export {
  CloseCode,
  type DefineSchema,
  endsSession,
  isRetryableClose,
  type NoSchema,
  ProbeError,
  type ProbeSchema,
  ProtocolError,
  RequestError,
  type RequestOptions,
  type UntypedSchema,
} from '@probe/protocol';
export { type BackoffOptions, backoffDelay } from './backoff.js';
export { type ClientRequestHandler, ProbeClient, type SendOptions } from './client.js';
export type {
  ClientEvents,
  ClientResumeInfo,
  ClientState,
  CloseInfo,
  DisconnectInfo,
  OpenInfo,
  SessionLostInfo,
  SessionLostReason,
} from './events.js';
export type {
  ProbeClientOptions,
  ReconnectOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
export type { UnconfirmedEvent } from './unconfirmed.js';
