// AGGREGATOR (type 7, optional transitive), RFC 4271 §5.1.7 / RFC 6793 §3:
//   +-------------------------+------------------------+
//   | AS (2 octets, 4 if NEW) | BGP Identifier (4)     |
//   +-------------------------+------------------------+
// AS4_AGGREGATOR (type 18): always a 4-octet AS.
import { AttrType } from "../constants.js";
import { ipv4Bytes, ipv4ToString } from "../ip.js";
import { type Aggregator, AttrFault, type AttributeCodec } from "./types.js";

function decodeAggregator(buf: Buffer, off: number, len: number, asnSize: 2 | 4, name: string): Aggregator {
  if (len !== asnSize + 4) throw new AttrFault(5, `${name} length ${len}, expected ${asnSize + 4}`);
  const asn = asnSize === 4 ? buf.readUInt32BE(off) : buf.readUInt16BE(off);
  return { asn, id: ipv4ToString(buf, off + asnSize) };
}

function encodeAggregator(a: Aggregator, asnSize: 2 | 4): Buffer {
  const asn = Buffer.alloc(asnSize);
  if (asnSize === 4) asn.writeUInt32BE(a.asn >>> 0);
  else asn.writeUInt16BE(a.asn);
  return Buffer.concat([asn, ipv4Bytes(a.id)]);
}

export const AGGREGATOR: AttributeCodec<"aggregator"> = {
  code: AttrType.AGGREGATOR,
  key: "aggregator",
  name: "AGGREGATOR",
  flags: 0xc0,
  malformed: "attribute-discard", // RFC 7606 §7.7
  decode: (buf, off, len, ctx) => decodeAggregator(buf, off, len, ctx.asn4 ? 4 : 2, "AGGREGATOR"),
  encode: (a, ctx) => encodeAggregator(a, ctx.asn4 ? 4 : 2),
};

export const AS4_AGGREGATOR: AttributeCodec<"as4Aggregator"> = {
  code: AttrType.AS4_AGGREGATOR,
  key: "as4Aggregator",
  name: "AS4_AGGREGATOR",
  flags: 0xc0,
  malformed: "attribute-discard", // RFC 6793 §6
  oldSpeakerOnly: true,
  decode: (buf, off, len) => decodeAggregator(buf, off, len, 4, "AS4_AGGREGATOR"),
  encode: (a) => encodeAggregator(a, 4),
};
