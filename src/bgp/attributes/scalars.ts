// The attributes whose value is one fixed-size field.
//   NEXT_HOP (3)          RFC 4271 §5.1.3   4 octets, IPv4 address
//   MULTI_EXIT_DISC (4)   RFC 4271 §5.1.4   4 octets
//   LOCAL_PREF (5)        RFC 4271 §5.1.5   4 octets
//   ATOMIC_AGGREGATE (6)  RFC 4271 §5.1.6   0 octets
//   ORIGINATOR_ID (9)     RFC 4456 §8       4 octets, BGP Identifier
import { AttrType } from "../constants.js";
import { ipv4Bytes, ipv4ToString } from "../ip.js";
import { type AttributeCodec, fixedLength, u32 } from "./types.js";

export const NEXT_HOP: AttributeCodec<"nextHop"> = {
  code: AttrType.NEXT_HOP,
  key: "nextHop",
  name: "NEXT_HOP",
  flags: 0x40,
  malformed: "treat-as-withdraw", // RFC 7606 §7.3
  decode(buf, off, len) {
    fixedLength(len, 4, "NEXT_HOP");
    return ipv4ToString(buf, off);
  },
  encode: (nh) => ipv4Bytes(nh),
};

export const MULTI_EXIT_DISC: AttributeCodec<"med"> = {
  code: AttrType.MULTI_EXIT_DISC,
  key: "med",
  name: "MULTI_EXIT_DISC",
  flags: 0x80,
  malformed: "treat-as-withdraw", // RFC 7606 §7.4
  decode(buf, off, len) {
    fixedLength(len, 4, "MULTI_EXIT_DISC");
    return buf.readUInt32BE(off);
  },
  encode: u32,
};

export const LOCAL_PREF: AttributeCodec<"localPref"> = {
  code: AttrType.LOCAL_PREF,
  key: "localPref",
  name: "LOCAL_PREF",
  flags: 0x40,
  malformed: "treat-as-withdraw", // RFC 7606 §7.5
  ibgpOnly: true,
  decode(buf, off, len) {
    fixedLength(len, 4, "LOCAL_PREF");
    return buf.readUInt32BE(off);
  },
  encode: u32,
};

export const ATOMIC_AGGREGATE: AttributeCodec<"atomicAggregate"> = {
  code: AttrType.ATOMIC_AGGREGATE,
  key: "atomicAggregate",
  name: "ATOMIC_AGGREGATE",
  flags: 0x40,
  malformed: "attribute-discard", // RFC 7606 §7.6
  decode(_buf, _off, len) {
    fixedLength(len, 0, "ATOMIC_AGGREGATE");
    return true;
  },
  encode: () => Buffer.alloc(0),
};

export const ORIGINATOR_ID: AttributeCodec<"originatorId"> = {
  code: AttrType.ORIGINATOR_ID,
  key: "originatorId",
  name: "ORIGINATOR_ID",
  flags: 0x80,
  malformed: "treat-as-withdraw", // RFC 7606 §7.9
  ibgpOnly: true,
  decode(buf, off, len) {
    fixedLength(len, 4, "ORIGINATOR_ID");
    return ipv4ToString(buf, off);
  },
  encode: (id) => ipv4Bytes(id),
};
