/**
 * Major version of the wire protocol. A peer with a different major version is refused with
 * {@link CloseCode.UNSUPPORTED_VERSION}; minor changes never change the frame layout.
 */
export const PROTOCOL_VERSION = 1;
