// UPDATE, RFC 4271 §4.3:
//   +-----------------------------------------------------+
//   |   Withdrawn Routes Length (2 octets)                |
//   |   Withdrawn Routes (variable)                       |
//   |   Total Path Attribute Length (2 octets)            |
//   |   Path Attributes (variable)                        |
//   |   Network Layer Reachability Information (variable) |
//   +-----------------------------------------------------+
import { decodeAttributes, encodeAttributes } from "./attributes/block.js";
import { isUnicast } from "./attributes/mp.js";
import type { PathAttributes } from "./attributes/types.js";
import { Afi, ErrorCode, Safi, UpdateSubcode } from "./constants.js";
import type { CodecContext } from "./context.js";
import { type BgpError, EncodeError, sessionReset } from "./errors.js";
import { checkNlri, decodeNlri, encodeNlri, type Nlri } from "./nlri.js";

export interface UpdateMessage {
  type: "UPDATE";
  /** IPv4 unicast withdrawn routes (other families: attributes.mpUnreach) */
  withdrawn: Nlri[];
  attributes: PathAttributes;
  /** IPv4 unicast NLRI (other families: attributes.mpReach) */
  nlri: Nlri[];
  /** Set by the decoder when the message is an End-of-RIB marker (RFC 4724 §2); not encoded. */
  endOfRib?: { afi: number; safi: number };
}

/** Where the three fields of an UPDATE body lie: offsets into the body. */
export interface UpdateLayout {
  withdrawnStart: number;
  withdrawnEnd: number;
  attributesStart: number;
  attributesEnd: number;
  nlriStart: number;
  nlriEnd: number;
}

/** RFC 4271 §6.3: the two length fields must fit the message, or the session is reset (3/1). */
export function layoutUpdate(body: Buffer): UpdateLayout | BgpError {
  const malformed = (reason: string) =>
    sessionReset(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason);
  if (body.length < 4) return malformed("UPDATE shorter than its two length fields");
  const withdrawnLength = body.readUInt16BE(0);
  const withdrawnEnd = 2 + withdrawnLength;
  if (withdrawnEnd + 2 > body.length)
    return malformed(`withdrawn routes length ${withdrawnLength} overruns the message`);
  const attributesLength = body.readUInt16BE(withdrawnEnd);
  const attributesStart = withdrawnEnd + 2;
  const attributesEnd = attributesStart + attributesLength;
  if (attributesEnd > body.length) {
    return malformed(`total path attribute length ${attributesLength} overruns the message`);
  }
  return {
    withdrawnStart: 2,
    withdrawnEnd,
    attributesStart,
    attributesEnd,
    nlriStart: attributesEnd,
    nlriEnd: body.length,
  };
}

export interface UpdateDecode {
  message?: UpdateMessage;
  /** the RFC 7606 outcome when anything is malformed */
  error?: BgpError;
}

export function decodeUpdate(body: Buffer, ctx: CodecContext): UpdateDecode {
  const layout = layoutUpdate(body);
  if (!("nlriEnd" in layout)) return { error: layout };
  const { withdrawnStart, withdrawnEnd, attributesStart, attributesEnd, nlriStart, nlriEnd } = layout;
  const addPath = ctx.addPath.ipv4;
  // RFC 7606 §3(h), §3(j): the Withdrawn Routes and NLRI fields must parse, or the session goes.
  for (const [start, end, field] of [
    [withdrawnStart, withdrawnEnd, "withdrawn routes"],
    [nlriStart, nlriEnd, "NLRI"],
  ] as const) {
    const fault = checkNlri(body, start, end, Afi.IPV4, addPath);
    if (fault) {
      return {
        error: sessionReset(
          ErrorCode.UPDATE_MESSAGE,
          UpdateSubcode.INVALID_NETWORK_FIELD,
          `${field}: ${fault}`,
        ),
      };
    }
  }
  const { attrs, error } = decodeAttributes(body, attributesStart, attributesEnd, ctx, nlriEnd - nlriStart);
  const message: UpdateMessage = {
    type: "UPDATE",
    withdrawn: decodeNlri(body, withdrawnStart, withdrawnEnd, Afi.IPV4, addPath),
    attributes: attrs,
    nlri: decodeNlri(body, nlriStart, nlriEnd, Afi.IPV4, addPath),
  };
  const eor = endOfRibFamily(message, attributesEnd - attributesStart);
  if (eor && !error) message.endOfRib = eor;
  return error ? { message, error } : { message };
}

/** RFC 4724 §2: an empty UPDATE, or one whose only attribute is an empty MP_UNREACH_NLRI. */
function endOfRibFamily(
  m: UpdateMessage,
  attributesLength: number,
): { afi: number; safi: number } | undefined {
  if (m.withdrawn.length > 0 || m.nlri.length > 0) return undefined;
  if (attributesLength === 0) return { afi: Afi.IPV4, safi: Safi.UNICAST };
  const keys = Object.keys(m.attributes).filter((k) => k !== "flags");
  const un = m.attributes.mpUnreach;
  if (keys.length === 1 && un && un.withdrawn.length === 0 && !un.withdrawnHex)
    return { afi: un.afi, safi: un.safi };
  return undefined;
}

export function encodeUpdate(m: UpdateMessage, ctx: CodecContext): Buffer {
  const withdrawn = encodeNlri(m.withdrawn, Afi.IPV4, ctx.addPath.ipv4);
  const attrs = encodeAttributes(m.attributes, ctx);
  const nlri = encodeNlri(m.nlri, Afi.IPV4, ctx.addPath.ipv4);
  if (withdrawn.length > 0xffff || attrs.length > 0xffff)
    throw new EncodeError("UPDATE field longer than 65535 octets");
  const out = Buffer.allocUnsafe(4 + withdrawn.length + attrs.length + nlri.length);
  out.writeUInt16BE(withdrawn.length, 0);
  withdrawn.copy(out, 2);
  out.writeUInt16BE(attrs.length, 2 + withdrawn.length);
  attrs.copy(out, 4 + withdrawn.length);
  nlri.copy(out, 4 + withdrawn.length + attrs.length);
  return out;
}

/** An End-of-RIB marker for a family (RFC 4724 §2). */
export function endOfRib(afi: number, safi: number): UpdateMessage {
  if (afi === Afi.IPV4 && safi === Safi.UNICAST)
    return { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] };
  return { type: "UPDATE", withdrawn: [], attributes: { mpUnreach: { afi, safi, withdrawn: [] } }, nlri: [] };
}

/** A run of NLRI of one family inside an UPDATE body: body[start, end). */
export interface NlriRun {
  afi: number;
  start: number;
  end: number;
}

/**
 * An UPDATE located without decoding it (the hot path): where its prefixes are, per family, and
 * the key of its attributes. Undefined where anything needs the decoder's judgement: a framing
 * error, malformed or other-family NLRI, an MP attribute too short, an End-of-RIB marker.
 */
export interface UpdateScan {
  /** IPv4 withdrawn, then MP_UNREACH_NLRI's */
  withdrawn: NlriRun[];
  /** IPv4 NLRI, then MP_REACH_NLRI's */
  reach: NlriRun[];
  /** attributeKey() of the message */
  key: string;
  /** the message carries a Path Attributes field other than MP_UNREACH_NLRI alone */
  attributes: boolean;
  /** its own NLRI field is not empty (NEXT_HOP is then mandatory, RFC 4760 §3) */
  nlriField: boolean;
}

/** Locates an UPDATE's parts (see UpdateScan); `addPath` as negotiated for receiving. */
export function scanUpdate(body: Buffer, addPath: CodecContext["addPath"]): UpdateScan | undefined {
  const layout = layoutUpdate(body);
  if (!("nlriEnd" in layout)) return undefined;
  const { attributesStart: start, attributesEnd: end } = layout;
  const withdrawn: NlriRun[] = [];
  const reach: NlriRun[] = [];
  const run = (list: NlriRun[], afi: number, from: number, to: number): boolean => {
    if (from === to) return true;
    if (checkNlri(body, from, to, afi, afi === Afi.IPV4 ? addPath.ipv4 : addPath.ipv6)) return false;
    list.push({ afi, start: from, end: to });
    return true;
  };
  if (!run(withdrawn, Afi.IPV4, layout.withdrawnStart, layout.withdrawnEnd)) return undefined;
  let key = "";
  let from = start;
  let off = start;
  let others = false;
  let mpReach = false;
  let unreach = false;
  while (off < end) {
    if (off + 3 > end) return undefined;
    const flags = body[off]!;
    const code = body[off + 1]!;
    const header = flags & 0x10 ? 4 : 3;
    if (off + header > end) return undefined;
    const length = header === 4 ? body.readUInt16BE(off + 2) : body[off + 2]!;
    const value = off + header;
    const next = value + length;
    if (next > end) return undefined;
    if (code === 15) {
      // MP_UNREACH_NLRI: AFI, SAFI, withdrawn routes; not part of the key
      if (length < 3 || unreach) return undefined;
      unreach = true;
      const afi = body.readUInt16BE(value);
      if (isUnicast(afi, body[value + 2]!) && !run(withdrawn, afi, value + 3, next)) return undefined;
      key += body.toString("latin1", from, off);
      from = next;
    } else if (code === 14) {
      // MP_REACH_NLRI up to its NLRI: flags without the extended-length bit, the code, then AFI,
      // SAFI and next hop, but not the length, which grows with the NLRI.
      // (a second one is the decoder's to judge: RFC 7606 §3(g))
      if (length < 5 || mpReach) return undefined;
      mpReach = true;
      others = true;
      const afi = body.readUInt16BE(value);
      const nlri = value + 4 + body[value + 3]! + 1;
      if (nlri > next) return undefined;
      // (other families' NLRI are not ours to read: the decoder keeps them as octets)
      if (isUnicast(afi, body[value + 2]!) && !run(reach, afi, nlri, next)) return undefined;
      key += body.toString("latin1", from, off);
      key += String.fromCharCode(flags & ~0x10, code);
      key += body.toString("latin1", value, nlri);
      from = next;
    } else others = true;
    off = next;
  }
  const ipv4 = reach.length;
  if (!run(reach, Afi.IPV4, layout.nlriStart, layout.nlriEnd)) return undefined;
  // IPv4 NLRI first: the order the decoder applies them in
  if (reach.length > ipv4) reach.unshift(reach.pop()!);
  // RFC 4724 §2: End-of-RIB, for the decoder
  if (withdrawn.length === 0 && reach.length === 0) return undefined;
  return {
    withdrawn,
    reach,
    key: key + body.toString("latin1", from, end),
    attributes: others,
    nlriField: layout.nlriEnd > layout.nlriStart,
  };
}

/**
 * The octets that identify a path's attributes for interning: the Path Attributes field of an
 * UPDATE (whole message), without MP_UNREACH_NLRI and without the NLRI inside MP_REACH_NLRI
 * or the length and extended-length bit that grow with them (its next hop stays: it belongs to
 * the path). Equal attributes make one key whatever NLRI came with them. Latin-1 text, so it
 * can key a Map.
 */
export function attributeKey(frame: Buffer, addPath: CodecContext["addPath"] = NO_ADD_PATH): string {
  return scanUpdate(frame.subarray(19), addPath)?.key ?? "";
}

const NO_ADD_PATH = { ipv4: false, ipv6: false } as const;
