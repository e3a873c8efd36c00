export {
  CloseCode,
  endsSession,
  isRetryableClose,
  ProbeError,
  ProtocolError,
} from '@probe/protocol';
export { type BackoffOptions, backoffDelay } from './backoff.js';
export { ProbeClient } from './client.js';
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
