export {
  CloseCode,
  closeCodeName,
  endsSession,
  isRetryableClose,
} from './close-codes.js';
export {
  decode,
  decodeMessageData,
  type EncodedPayload,
  encode,
  encodeAck,
  encodeMessage,
  encodeMessageWithPayload,
  encodePayload,
  encodeProbe,
  encodeProbeAnswer,
  type WireData,
} from './codec.js';
export { DEFAULTS, RECONNECT_DEFAULTS } from './defaults.js';
export {
  isProtocolError,
  ProtocolError,
  type ProtocolErrorCode,
  ProtocolErrorCodes,
} from './errors.js';
export * from './frames.js';
export { InboundSequence } from './inbound.js';
export { ProbeError, type ProbeErrorCode } from './probe-error.js';
export { clampReason } from './reason.js';
export { ReplayBuffer } from './replay-buffer.js';
export { MAX_ID_LENGTH, MAX_REASON_LENGTH, validate } from './validate.js';
export { PROTOCOL_VERSION } from './version.js';
