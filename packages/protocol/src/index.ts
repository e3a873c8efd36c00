export {
  type CallHost,
  Calls,
  checkEventName,
  RequestError,
  type RequestHandler,
  type RequestOptions,
} from './calls.js';
export {
  CloseCode,
  closeCodeName,
  endsSession,
  isRetryableClose,
} from './close-codes.js';
export {
  decode,
  decodeFromClient,
  decodeFromServer,
  decodeMessageData,
  decodeOwnMessage,
  type EncodedPayload,
  encode,
  encodeAck,
  encodeGoodbye,
  encodeHello,
  encodeMessage,
  encodeMessageWithPayload,
  encodePayload,
  encodeProbe,
  encodeProbeAnswer,
  probeAnswerId,
  type WireData,
} from './codec.js';
export { CLIENT_DEFAULTS, DEFAULTS } from './defaults.js';
export { Delivery, type DeliveryLimits, WindowCounter } from './delivery.js';
export {
  isProtocolError,
  ProtocolError,
  type ProtocolErrorCode,
  ProtocolErrorCodes,
} from './errors.js';
export * from './frames.js';
export { InboundSequence } from './inbound.js';
export type { EventMap, Listeners } from './listeners.js';
export { ProbeError, type ProbeErrorCode } from './probe-error.js';
export { clampReason } from './reason.js';
export { ReplayBuffer } from './replay-buffer.js';
export type {
  DefineSchema,
  EventArgs,
  NameOf,
  NoSchema,
  ProbeSchema,
  RequestPayload,
  RequestReply,
  UntypedSchema,
} from './schema.js';
export {
  MAX_EVENT_LENGTH,
  MAX_ID_LENGTH,
  MAX_PAYLOAD_RANGE,
  MAX_REASON_LENGTH,
  PROBE_MS_RANGE,
  RESERVED_EVENTS,
  validate,
  validateFromClient,
  validateFromServer,
} from './validate.js';
export { PROTOCOL_VERSION } from './version.js';
