// Prefix keys and the hot-path IPv4 prefix text, against ipaddr.js as the reference.
import fc from "fast-check";
import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import {
  destKey,
  encodeNlri,
  formatKey,
  formatPrefix,
  ipv4Key,
  ipv4Number,
  keyBits,
  keyFamily,
  keyPathId,
  nlriSize,
  prefixKey,
  wireKey,
  withPathId,
  writeNlri,
} from "../../src/bgp/index.js";
import { AttrTable, LocRib, type PeerRef } from "../../src/rib/index.js";

const reference = (bytes: number[], bits: number) => {
  const [addr, len] = ipaddr.parseCIDR(`${ipaddr.fromByteArray(bytes).toString()}/${bits}`);
  const net = ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${len}`);
  return `${net.toString()}/${len}`;
};

describe("IPv4 prefix text", () => {
  it("matches ipaddr.js for every length, host bits cleared, and reads only the prefix's octets", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 32 }),
        (bytes, bits) => {
          // Octets past ceil(bits / 8) belong to the next NLRI: they must not show.
          const wire = Uint8Array.from([0xaa, ...bytes.slice(0, (bits + 7) >> 3), 0xff, 0xff, 0xff, 0xff]);
          const shown = bytes.map((b, i) => (i < (bits + 7) >> 3 ? b : 0));
          expect(formatPrefix(1, wire, 1, bits)).toBe(reference(shown, bits));
        },
      ),
    );
  });

  it("keeps the scratch buffer from leaking between calls", () => {
    expect(formatPrefix(1, Uint8Array.from([198, 18, 255, 255]), 0, 32)).toBe("198.18.255.255/32");
    expect(formatPrefix(1, Uint8Array.from([0]), 0, 0)).toBe("0.0.0.0/0");
    expect(formatPrefix(1, Uint8Array.from([100, 127]), 0, 9)).toBe("100.0.0.0/9");
  });
});

describe("prefix keys", () => {
  it("number IPv4 prefixes without a Path Identifier by address and length, one key per prefix", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 32 }), (n, bits) => {
        const text = ipaddr.fromByteArray([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString();
        expect(ipv4Number(text)).toBe(n);
        // host bits are not part of the prefix
        const net = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
        expect(prefixKey("ipv4", `${text}/${bits}`)).toBe(net * 64 + bits);
      }),
    );
    // the same address with another length is another prefix
    expect(prefixKey("ipv4", "198.18.0.0/15")).not.toBe(prefixKey("ipv4", "198.18.0.0/16"));
  });

  it("key everything else by octets, so no two families or Path Identifiers collide", () => {
    expect(prefixKey("ipv4", "198.18.0.0/15", 7)).not.toBe(prefixKey("ipv4", "198.18.0.0/15"));
    expect(prefixKey("ipv6", "2001:db8::/32")).not.toBe(prefixKey("ipv6", "2001:db8::/32", 1));
    expect(prefixKey("ipv6", "::/0")).not.toBe(prefixKey("ipv4", "0.0.0.0/0", 1));
    expect(prefixKey("ipv4", "198.18.0.0/15", 7)).toBe(ipv4Key(ipv4Number("198.18.0.0"), 15, 7));
  });

  it("read from NLRI octets, written back as the same octets, and shown as ipaddr.js shows them", () => {
    const octets = (n: number) => fc.array(fc.integer({ min: 0, max: 255 }), { minLength: n, maxLength: n });
    const prefix = fc.oneof(
      fc.record({ afi: fc.constant(1), bytes: octets(4), bits: fc.integer({ min: 0, max: 32 }) }),
      fc.record({ afi: fc.constant(2), bytes: octets(16), bits: fc.integer({ min: 0, max: 128 }) }),
    );
    const pathId = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    fc.assert(
      fc.property(prefix, pathId, fc.boolean(), ({ afi, bytes, bits }, id, addPath) => {
        const family = afi === 1 ? "ipv4" : "ipv6";
        const n = (bits + 7) >> 3;
        // host bits set on the wire: they are not part of the prefix
        const wire = Uint8Array.from([0xaa, ...bytes.slice(0, n), 0xff]);
        const k = wireKey(wire, 1, afi, bits, id);
        const text = formatPrefix(afi, wire, 1, bits);
        expect(formatKey(k)).toBe(text);
        expect(prefixKey(family, text, id)).toBe(k);
        expect(keyFamily(k)).toBe(family);
        expect(keyBits(k)).toBe(bits);
        expect(keyPathId(k)).toBe(id);
        expect(destKey(k)).toBe(prefixKey(family, text));
        expect(withPathId(destKey(k), id)).toBe(k);
        // written as encodeNlri writes the prefix
        const out = Buffer.alloc(nlriSize(k, addPath));
        expect(writeNlri(k, out, 0, addPath, id)).toBe(out.length);
        const nlri = addPath ? { pathId: id, prefix: text } : text;
        expect(out).toEqual(encodeNlri([nlri], afi, addPath));
      }),
    );
  });
});

/** An empty Loc-RIB, a peer and one attribute set to fill it with. */
function ribWithOnePeer() {
  const peer: PeerRef = {
    address: "203.0.113.1",
    addressKey: "203.000.113.001",
    routerId: "203.0.113.1",
    ebgp: false,
    role: "client",
  };
  const attrs = new AttrTable().intern("k", () => ({ origin: "igp", asPath: [], nextHop: "203.0.113.1" }));
  return { rib: new LocRib(), peer, attrs };
}

describe("Loc-RIB lookup by text (/routes?prefix=)", () => {
  it("finds a prefix written as the Loc-RIB writes it, and nothing for other text", () => {
    const { rib, peer, attrs } = ribWithOnePeer();
    for (const prefix of ["0.0.0.0/0", "198.18.0.0/15", "100.64.0.1/32"])
      rib.upsert(peer, prefixKey("ipv4", prefix), attrs, 0);
    rib.upsert(peer, prefixKey("ipv6", "2001:db8::/32"), attrs, 0);
    expect(rib.get("ipv4", "198.18.0.0/15")?.key).toBe(ipv4Key(ipv4Number("198.18.0.0"), 15));
    expect(rib.get("ipv6", "2001:db8::/32")?.bits).toBe(32);
    // Text that parses to the same number as a stored key is still not that prefix.
    for (const text of ["0", "", "198.18.0.0", "198.18.0.0/015", "100.64.0.01/32"])
      expect(rib.get("ipv4", text)).toBeUndefined();
  });

  it("an address finds the longest prefix that covers it (routes ADDRESS)", () => {
    const { rib, peer, attrs } = ribWithOnePeer();
    for (const prefix of ["198.18.0.0/15", "198.18.5.0/24", "198.18.5.128/25", "100.64.0.1/32"])
      rib.upsert(peer, prefixKey("ipv4", prefix), attrs, 0);
    for (const prefix of ["2001:db8::/32", "2001:db8:0:12::/63", "2001:db8:ffff:1::/64"])
      rib.upsert(peer, prefixKey("ipv6", prefix), attrs, 0);
    const lpm = (family: "ipv4" | "ipv6", a: string) => {
      const d = rib.lookup(family, a);
      return d && formatKey(d.key);
    };
    expect(lpm("ipv4", "198.18.5.200")).toBe("198.18.5.128/25");
    expect(lpm("ipv4", "198.18.5.7")).toBe("198.18.5.0/24");
    expect(lpm("ipv4", "198.19.255.255")).toBe("198.18.0.0/15");
    expect(lpm("ipv4", "100.64.0.1")).toBe("100.64.0.1/32");
    expect(lpm("ipv4", "100.64.0.2")).toBeUndefined();
    expect(lpm("ipv6", "2001:db8:0:13::1")).toBe("2001:db8:0:12::/63");
    expect(lpm("ipv6", "2001:db8:0:14::1")).toBe("2001:db8::/32");
    expect(lpm("ipv6", "2001:db8:ffff:1:ffff::")).toBe("2001:db8:ffff:1::/64");
    expect(lpm("ipv6", "2001:db9::1")).toBeUndefined();
    rib.upsert(peer, prefixKey("ipv4", "0.0.0.0/0"), attrs, 0);
    expect(lpm("ipv4", "100.64.0.2")).toBe("0.0.0.0/0");
  });
});
