// Whole messages: header check, dispatch by type, and the one place that guarantees a decoder
// never throws: anything unexpected becomes a typed internal error.
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from "./constants.js";
import type { CodecContext } from "./context.js";
import { BgpError, EncodeError, internalError } from "./errors.js";
import { checkHeader, withHeader } from "./header.js";
import { decodeNotification, encodeNotification, type NotificationMessage } from "./notification.js";
import { decodeOpen, encodeOpen, type OpenMessage } from "./open.js";
import { decodeRouteRefresh, encodeRouteRefresh, type RouteRefreshMessage } from "./route-refresh.js";
import { decodeUpdate, encodeUpdate, type UpdateMessage } from "./update.js";

export interface KeepaliveMessage {
  type: "KEEPALIVE";
}

export type BgpMessage =
  | OpenMessage
  | UpdateMessage
  | NotificationMessage
  | KeepaliveMessage
  | RouteRefreshMessage;
export type MessageTypeName = BgpMessage["type"];

export interface DecodeResult {
  /** What could be decoded; present unless the message could not be read at all. */
  message?: BgpMessage;
  /** The RFC 7606 / RFC 4271 outcome when the message is malformed. */
  error?: BgpError;
}

export function maxLengthFor(ctx: CodecContext): number {
  return ctx.extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
}

/** Decodes one whole message (header included), as the framer returns it. Never throws. */
export function decodeMessage(frame: Buffer, ctx: CodecContext): DecodeResult {
  try {
    if (frame.length < HEADER_LENGTH) {
      const length = frame.length >= 18 ? frame.readUInt16BE(16) : frame.length;
      return { error: badFrame(length) };
    }
    const checked = checkHeader(frame, 0, maxLengthFor(ctx));
    if (typeof checked !== "number") return { error: checked };
    if (checked !== frame.length) return { error: badFrame(checked) };
    const body = frame.subarray(HEADER_LENGTH);
    switch (frame[18]) {
      case MessageType.OPEN:
        return decodeOpen(body);
      case MessageType.UPDATE:
        return decodeUpdate(body, ctx);
      case MessageType.NOTIFICATION:
        return { message: decodeNotification(body) };
      case MessageType.KEEPALIVE:
        return { message: { type: "KEEPALIVE" } };
      default:
        return decodeRouteRefresh(body, frame);
    }
  } catch (e) {
    return { error: e instanceof BgpError ? e : internalError(e) };
  }
}

function badFrame(length: number): BgpError {
  const data = Buffer.alloc(2);
  data.writeUInt16BE(length & 0xffff);
  return new BgpError({
    action: "session-reset",
    code: 1,
    subcode: 2,
    data,
    reason: `the Length field (${length}) does not match the message`,
  });
}

const TYPE_CODE: Readonly<Record<MessageTypeName, number>> = {
  OPEN: MessageType.OPEN,
  UPDATE: MessageType.UPDATE,
  NOTIFICATION: MessageType.NOTIFICATION,
  KEEPALIVE: MessageType.KEEPALIVE,
  "ROUTE-REFRESH": MessageType.ROUTE_REFRESH,
};

/** Encodes a message with its header. Throws EncodeError for what has no valid wire form. */
export function encodeMessage(m: BgpMessage, ctx: CodecContext): Buffer {
  const code = TYPE_CODE[m.type];
  if (code === undefined)
    throw new EncodeError(`unknown message type ${JSON.stringify((m as { type: unknown }).type)}`);
  return withHeader(code, encodeBody(m, ctx), m.type === "OPEN" ? MAX_MESSAGE_LENGTH : maxLengthFor(ctx));
}

function encodeBody(m: BgpMessage, ctx: CodecContext): Buffer {
  switch (m.type) {
    case "OPEN":
      return encodeOpen(m);
    case "UPDATE":
      return encodeUpdate(m, ctx);
    case "NOTIFICATION":
      return encodeNotification(m);
    case "KEEPALIVE":
      return Buffer.alloc(0);
    case "ROUTE-REFRESH":
      return encodeRouteRefresh(m);
  }
}

/** A KEEPALIVE is always the same 19 octets. */
export const KEEPALIVE: Buffer = withHeader(MessageType.KEEPALIVE, Buffer.alloc(0), MAX_MESSAGE_LENGTH);
