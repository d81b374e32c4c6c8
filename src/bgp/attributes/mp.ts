// MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), optional non-transitive, RFC 4760 §3-4.
//
//   MP_REACH_NLRI                                MP_UNREACH_NLRI
//   +-------------------------------------+      +-------------------------------------+
//   | AFI (2) | SAFI (1) | NH length (1)  |      | AFI (2) | SAFI (1)                   |
//   | Next hop (NH length octets)         |      | Withdrawn routes (variable)         |
//   | Reserved (1)                        |      +-------------------------------------+
//   | NLRI (variable)                     |
//   +-------------------------------------+
// IPv4 and IPv6 unicast are decoded (RFC 2545 IPv6 next hops, 16 or 32 octets with a link-local
// address; RFC 8950 IPv6 next hops for IPv4 NLRI); other families are kept as hex.
import { Afi, AttrType, Safi } from "../constants.js";
import type { CodecContext } from "../context.js";
import { EncodeError } from "../errors.js";
import { ipv4Bytes, ipv4ToString, ipv6Bytes, ipv6ToString, isIpv6Text } from "../ip.js";
import { checkNlri, decodeNlri, encodeNlri } from "../nlri.js";
import { AttrFault, type AttributeCodec } from "./types.js";

export function isUnicast(afi: number, safi: number): boolean {
  return safi === Safi.UNICAST && (afi === Afi.IPV4 || afi === Afi.IPV6);
}

export function addPathFor(ctx: CodecContext, afi: number): boolean {
  return afi === Afi.IPV4 ? ctx.addPath.ipv4 : ctx.addPath.ipv6;
}

/** RFC 7606 §7.11: a next hop of unexpected length hides where the NLRI start. */
function decodeNextHop(afi: number, nh: Buffer): string[] {
  if (afi === Afi.IPV4 && nh.length === 4) return [ipv4ToString(nh, 0)];
  if (nh.length === 16) return [ipv6ToString(nh, 0)];
  if (nh.length === 32) return [ipv6ToString(nh, 0), ipv6ToString(nh, 16)];
  throw new AttrFault(9, `next hop length ${nh.length} is not valid for AFI ${afi}`);
}

function familyHeader(afi: number, safi: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt16BE(afi, 0);
  b[2] = safi;
  return b;
}

function hexField(hex: string, what: string): Buffer {
  const b = Buffer.from(hex, "hex");
  if (b.length * 2 !== hex.length) throw new EncodeError(`bad hex in ${what}`);
  return b;
}

export const MP_REACH_NLRI: AttributeCodec<"mpReach"> = {
  code: AttrType.MP_REACH_NLRI,
  key: "mpReach",
  name: "MP_REACH_NLRI",
  flags: 0x80,
  malformed: "afi-safi-disable", // RFC 7606 §7.11
  decode(buf, off, len, ctx) {
    const value = buf.subarray(off, off + len);
    if (value.length < 5)
      throw new AttrFault(9, `MP_REACH_NLRI too short (${value.length})`, "session-reset");
    const afi = value.readUInt16BE(0);
    const safi = value[2]!;
    const nhLength = value[3]!;
    const nlriStart = 4 + nhLength + 1;
    if (nlriStart > value.length)
      throw new AttrFault(9, `next hop length ${nhLength} overruns MP_REACH_NLRI`);
    const nh = value.subarray(4, 4 + nhLength);
    if (!isUnicast(afi, safi)) {
      return {
        afi,
        safi,
        nextHop: [],
        nlri: [],
        nextHopHex: nh.toString("hex").toUpperCase(),
        nlriHex: value.toString("hex", nlriStart).toUpperCase(),
      };
    }
    const nextHop = decodeNextHop(afi, nh);
    const addPath = addPathFor(ctx, afi);
    const fault = checkNlri(value, nlriStart, value.length, afi, addPath);
    if (fault) throw new AttrFault(9, `MP_REACH_NLRI: ${fault}`);
    return { afi, safi, nextHop, nlri: decodeNlri(value, nlriStart, value.length, afi, addPath) };
  },
  encode(mp, ctx) {
    const opaque = !isUnicast(mp.afi, mp.safi);
    const nh = opaque
      ? hexField(mp.nextHopHex ?? "", "nextHopHex")
      : Buffer.concat(mp.nextHop.map((a) => (isIpv6Text(a) ? ipv6Bytes(a) : ipv4Bytes(a))));
    if (nh.length > 255) throw new EncodeError("MP_REACH_NLRI next hop longer than 255 octets");
    const head = familyHeader(mp.afi, mp.safi, 4);
    head[3] = nh.length;
    const nlri = opaque
      ? hexField(mp.nlriHex ?? "", "nlriHex")
      : encodeNlri(mp.nlri, mp.afi, addPathFor(ctx, mp.afi));
    return Buffer.concat([head, nh, Buffer.alloc(1), nlri]);
  },
};

export const MP_UNREACH_NLRI: AttributeCodec<"mpUnreach"> = {
  code: AttrType.MP_UNREACH_NLRI,
  key: "mpUnreach",
  name: "MP_UNREACH_NLRI",
  flags: 0x80,
  malformed: "afi-safi-disable", // RFC 7606 §7.12
  decode(buf, off, len, ctx) {
    const value = buf.subarray(off, off + len);
    if (value.length < 3)
      throw new AttrFault(9, `MP_UNREACH_NLRI too short (${value.length})`, "session-reset");
    const afi = value.readUInt16BE(0);
    const safi = value[2]!;
    if (!isUnicast(afi, safi)) {
      return { afi, safi, withdrawn: [], withdrawnHex: value.toString("hex", 3).toUpperCase() };
    }
    const addPath = addPathFor(ctx, afi);
    const fault = checkNlri(value, 3, value.length, afi, addPath);
    if (fault) throw new AttrFault(9, `MP_UNREACH_NLRI: ${fault}`);
    return { afi, safi, withdrawn: decodeNlri(value, 3, value.length, afi, addPath) };
  },
  encode(mp, ctx) {
    const body = isUnicast(mp.afi, mp.safi)
      ? encodeNlri(mp.withdrawn, mp.afi, addPathFor(ctx, mp.afi))
      : hexField(mp.withdrawnHex ?? "", "withdrawnHex");
    return Buffer.concat([familyHeader(mp.afi, mp.safi, 3), body]);
  },
};
