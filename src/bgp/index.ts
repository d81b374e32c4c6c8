// The BGP wire codec: pure functions over Buffers, no sockets, no timers.
export * from "./attributes/index.js";
export { type Capability, encodeCapability, type FamilyFlags } from "./capabilities.js";
export * from "./constants.js";
export { type CodecContext, DEFAULT_CONTEXT, makeContext } from "./context.js";
export {
  BgpError,
  type BgpErrorInit,
  EncodeError,
  type Rfc7606Action,
  sessionReset,
  strongerAction,
} from "./errors.js";
export { AFI, type Family, familyOf, UNICAST } from "./family.js";
export { Framer } from "./framer.js";
export { formatPrefix, ipv4Number, parsePrefix } from "./ip.js";
export { jsonReplacer, jsonReviver } from "./json.js";
export {
  type BgpMessage,
  type DecodeResult,
  decodeMessage,
  encodeMessage,
  KEEPALIVE,
  type KeepaliveMessage,
  type MessageTypeName,
  maxLengthFor,
} from "./message.js";
export { decodeNlri, encodeNlri, type Nlri, nlriPrefix, scanIpv4Nlri } from "./nlri.js";
export { describeError, type NotificationMessage, shutdownData } from "./notification.js";
export type { OpenMessage } from "./open.js";
export {
  destKey,
  formatKey,
  ipv4Address,
  ipv4Key,
  keyBits,
  keyFamily,
  keyOctet,
  keyPathId,
  nlriSize,
  type PrefixKey,
  PrefixMap,
  prefixKey,
  wireKey,
  withPathId,
  writeNlri,
} from "./prefix-key.js";
export type { RouteRefreshMessage } from "./route-refresh.js";
export {
  attributeKey,
  decodeUpdate,
  endOfRib,
  layoutUpdate,
  type NlriRun,
  scanUpdate,
  type UpdateLayout,
  type UpdateMessage,
  type UpdateScan,
} from "./update.js";
export { blockOctets, type OutboundBlock, type Prefixes, UpdateBatch } from "./update-builder.js";
