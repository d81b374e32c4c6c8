// The message header, RFC 4271 §4.1:
//   +-----------------------------------------------+
//   |                 Marker (16 octets of 0xFF)     |
//   +-----------------------+-----------+-----------+
//   |      Length (2)       | Type (1)  |
//   +-----------------------+-----------+
import {
  ErrorCode,
  HEADER_LENGTH,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MessageHeaderSubcode,
  MessageType,
} from "./constants.js";
import { type BgpError, EncodeError, sessionReset } from "./errors.js";

/** RFC 4271 §6.1: minimum length of each message type; KEEPALIVE is exactly 19. */
const MIN_LENGTH: Readonly<Record<number, number>> = {
  [MessageType.OPEN]: 29,
  [MessageType.UPDATE]: 23,
  [MessageType.NOTIFICATION]: 21,
  [MessageType.KEEPALIVE]: 19,
  [MessageType.ROUTE_REFRESH]: 23,
};

function badLength(length: number): BgpError {
  const data = Buffer.alloc(2);
  data.writeUInt16BE(length);
  return sessionReset(
    ErrorCode.MESSAGE_HEADER,
    MessageHeaderSubcode.BAD_MESSAGE_LENGTH,
    `bad message length ${length}`,
    data,
  );
}

/**
 * Checks marker, length and type of the header at `off` (RFC 4271 §6.1). Returns the message
 * length, or the error to answer with.
 */
export function checkHeader(buf: Uint8Array, off: number, maxLength: number): number | BgpError {
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (buf[off + i] !== 0xff) {
      return sessionReset(
        ErrorCode.MESSAGE_HEADER,
        MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED,
        "marker is not all ones",
      );
    }
  }
  const length = (buf[off + 16]! << 8) | buf[off + 17]!;
  const type = buf[off + 18]!;
  if (length < HEADER_LENGTH || length > maxLength) return badLength(length);
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    return sessionReset(
      ErrorCode.MESSAGE_HEADER,
      MessageHeaderSubcode.BAD_MESSAGE_TYPE,
      `bad message type ${type}`,
      Buffer.from([type]),
    );
  }
  if (length < min || (type === MessageType.KEEPALIVE && length !== HEADER_LENGTH)) return badLength(length);
  // RFC 8654 §4: OPEN stays within 4096 octets even with the Extended Message capability.
  if (type === MessageType.OPEN && length > MAX_MESSAGE_LENGTH) return badLength(length);
  return length;
}

export function withHeader(type: number, body: Buffer, maxLength: number): Buffer {
  const length = HEADER_LENGTH + body.length;
  if (length > maxLength)
    throw new EncodeError(`message of ${length} octets exceeds the ${maxLength}-octet limit`);
  const msg = Buffer.allocUnsafe(length);
  msg.fill(0xff, 0, MARKER_LENGTH);
  msg.writeUInt16BE(length, 16);
  msg[18] = type;
  body.copy(msg, HEADER_LENGTH);
  return msg;
}
