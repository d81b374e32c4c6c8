// The attributes that are a list of fixed-size items. RFC 7606 makes each of them malformed
// (treat-as-withdraw) unless its length is a non-zero multiple of the item size.
//   COMMUNITIES (8)                RFC 1997        4 octets: "high:low"          RFC 7606 §7.8
//   CLUSTER_LIST (10)              RFC 4456 §8     4 octets: cluster ID           RFC 7606 §7.10
//   EXTENDED_COMMUNITIES (16)      RFC 4360        8 octets, kept as hex          RFC 7606 §7.14
//   IPV6_EXTENDED_COMMUNITIES (25) RFC 5701       20 octets, kept as hex          RFC 7606 §7.15
//   LARGE_COMMUNITY (32)           RFC 8092       12 octets: "global:l1:l2"      RFC 8092 §6
import { AttrType } from "../constants.js";
import { EncodeError } from "../errors.js";
import { ipv4Bytes, ipv4ToString } from "../ip.js";
import { type AttributeCodec, type KnownAttrKey, listLength, type PathAttributes } from "./types.js";

type ListKey = {
  [K in KnownAttrKey]: NonNullable<PathAttributes[K]> extends string[] ? K : never;
}[KnownAttrKey];

function listAttribute<K extends ListKey>(
  spec: Pick<AttributeCodec<K>, "code" | "key" | "name" | "flags" | "ibgpOnly">,
  size: number,
  item: { decode(buf: Buffer, off: number): string; encode(text: string): Buffer },
): AttributeCodec<K> {
  return {
    ...spec,
    malformed: "treat-as-withdraw",
    decode(buf, start, len) {
      listLength(len, size, spec.name);
      const out: string[] = [];
      for (let off = start; off < start + len; off += size) out.push(item.decode(buf, off));
      return out as NonNullable<PathAttributes[K]>;
    },
    encode(list) {
      return Buffer.concat((list as string[]).map((text) => item.encode(text)));
    },
  };
}

function numbers(text: string, count: number, bits: number, what: string): number[] {
  const parts = text.split(":");
  const nums = parts.map(Number);
  if (parts.length !== count || nums.some((n) => !Number.isInteger(n) || n < 0 || n >= 2 ** bits)) {
    throw new EncodeError(`bad ${what} ${JSON.stringify(text)}`);
  }
  return nums;
}

function hexItem(size: number, what: string) {
  return {
    decode: (buf: Buffer, off: number) => buf.toString("hex", off, off + size).toUpperCase(),
    encode(text: string) {
      const b = Buffer.from(text, "hex");
      if (b.length !== size || text.length !== size * 2)
        throw new EncodeError(`bad ${what} ${JSON.stringify(text)}`);
      return b;
    },
  };
}

export const COMMUNITIES = listAttribute(
  { code: AttrType.COMMUNITIES, key: "communities", name: "COMMUNITIES", flags: 0xc0 },
  4,
  {
    decode: (buf, off) => `${buf.readUInt16BE(off)}:${buf.readUInt16BE(off + 2)}`,
    encode(text) {
      const [hi, lo] = numbers(text, 2, 16, "community");
      const b = Buffer.alloc(4);
      b.writeUInt16BE(hi!, 0);
      b.writeUInt16BE(lo!, 2);
      return b;
    },
  },
);

export const CLUSTER_LIST = listAttribute(
  { code: AttrType.CLUSTER_LIST, key: "clusterList", name: "CLUSTER_LIST", flags: 0x80, ibgpOnly: true },
  4,
  { decode: ipv4ToString, encode: ipv4Bytes },
);

export const EXTENDED_COMMUNITIES = listAttribute(
  { code: AttrType.EXTENDED_COMMUNITIES, key: "extCommunities", name: "EXTENDED_COMMUNITIES", flags: 0xc0 },
  8,
  hexItem(8, "extended community"),
);

export const IPV6_EXTENDED_COMMUNITIES = listAttribute(
  {
    code: AttrType.IPV6_EXTENDED_COMMUNITIES,
    key: "ipv6ExtCommunities",
    name: "IPV6_EXTENDED_COMMUNITIES",
    flags: 0xc0,
  },
  20,
  hexItem(20, "IPv6 extended community"),
);

export const LARGE_COMMUNITY = listAttribute(
  { code: AttrType.LARGE_COMMUNITY, key: "largeCommunities", name: "LARGE_COMMUNITY", flags: 0xc0 },
  12,
  {
    decode: (buf, off) =>
      `${buf.readUInt32BE(off)}:${buf.readUInt32BE(off + 4)}:${buf.readUInt32BE(off + 8)}`,
    encode(text) {
      const [g, a, b] = numbers(text, 3, 32, "large community");
      const out = Buffer.alloc(12);
      out.writeUInt32BE(g!, 0);
      out.writeUInt32BE(a!, 4);
      out.writeUInt32BE(b!, 8);
      return out;
    },
  },
);
