// The decoded form of path attributes. It is also the JSON form the CLI prints and reads:
// property order is wire order, so decode-then-encode gives back the same bytes.
import type { CodecContext } from "../context.js";
import type { Rfc7606Action } from "../errors.js";
import type { Nlri } from "../nlri.js";

export type Origin = "igp" | "egp" | "incomplete";
export type AsSegmentType = "AS_SET" | "AS_SEQUENCE" | "AS_CONFED_SEQUENCE" | "AS_CONFED_SET";
export interface AsSegment {
  type: AsSegmentType;
  asns: number[];
}
export interface Aggregator {
  asn: number;
  id: string;
}

/** MP_REACH_NLRI. Families we do not decode keep next hop and NLRI as hex. */
export interface MpReach {
  afi: number;
  safi: number;
  nextHop: string[];
  nlri: Nlri[];
  nextHopHex?: string;
  nlriHex?: string;
}
export interface MpUnreach {
  afi: number;
  safi: number;
  withdrawn: Nlri[];
  withdrawnHex?: string;
}

/** An attribute this codec does not know, kept byte for byte (valueHex in JSON: bgp/json.ts). */
export interface UnknownAttribute {
  code: number;
  flags: number;
  /** its own copy of the octets, never a view of a received chunk */
  value: Buffer;
}

export interface PathAttributes {
  origin?: Origin;
  asPath?: AsSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: true;
  aggregator?: Aggregator;
  /** "high:low" */
  communities?: string[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** 8 octets each, as 16 hex digits */
  extCommunities?: string[];
  as4Path?: AsSegment[];
  as4Aggregator?: Aggregator;
  /** RFC 5701: 20 octets each, as 40 hex digits */
  ipv6ExtCommunities?: string[];
  /** "global:local1:local2" */
  largeCommunities?: string[];
  unknown?: UnknownAttribute[];
  /** Wire flags of known attributes where they differ from the usual ones. */
  flags?: Partial<Record<KnownAttrKey, number>>;
}

export type KnownAttrKey = Exclude<keyof PathAttributes, "unknown" | "flags">;

/** Thrown inside an attribute decoder; the attribute block decoder turns it into a BgpError. */
export class AttrFault {
  constructor(
    readonly subcode: number,
    readonly reason: string,
    /** overrides the attribute's usual RFC 7606 action */
    readonly action?: Rfc7606Action,
  ) {}
}

export interface AttributeCodec<K extends KnownAttrKey> {
  readonly code: number;
  readonly key: K;
  /** The name the RFCs use: "AS_PATH". */
  readonly name: string;
  /** Optional and Transitive bits as the attribute's RFC sets them. */
  readonly flags: number;
  /** RFC 7606 §7 action when the attribute is malformed. */
  readonly malformed: Rfc7606Action;
  /** RFC 7606 §7.5, §7.9, §7.10: disregarded when received from an external peer. */
  readonly ibgpOnly?: boolean;
  /** RFC 6793 §4.1: AS4_* attributes are disregarded from a NEW (4-octet) speaker. */
  readonly oldSpeakerOnly?: boolean;
  /** Decodes the value that lies at buf[off, off + len). */
  decode(buf: Buffer, off: number, len: number, ctx: CodecContext): NonNullable<PathAttributes[K]>;
  encode(value: NonNullable<PathAttributes[K]>, ctx: CodecContext): Buffer;
}

export function fixedLength(len: number, expected: number, name: string): void {
  if (len !== expected) throw new AttrFault(5, `${name} length ${len}, expected ${expected}`);
}

/** RFC 7606: lists are malformed unless their length is a non-zero multiple of the item size. */
export function listLength(len: number, item: number, name: string): void {
  if (len === 0 || len % item !== 0) {
    throw new AttrFault(5, `${name} length ${len} is not a non-zero multiple of ${item}`);
  }
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
