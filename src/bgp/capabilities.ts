// Capabilities advertisement, RFC 5492: each capability is
//   +------------------------------+
//   | Capability Code (1 octet)    |
//   | Capability Length (1 octet)  |
//   | Capability Value (variable)  |
//   +------------------------------+
// Known values are decoded; the rest are kept as bytes (RFC 5492 §3: ignore what is not understood).
import { CapabilityCode, ErrorCode, OpenSubcode } from "./constants.js";
import { EncodeError, sessionReset } from "./errors.js";

export interface FamilyFlags {
  afi: number;
  safi: number;
  flags: number;
}

export type Capability =
  /** RFC 4760 §8: AFI (2), reserved (1), SAFI (1). */
  | { code: 1; name: "multiprotocol"; afi: number; safi: number }
  | { code: 2; name: "route-refresh" }
  /** RFC 8950 §3: (AFI (2), SAFI (2), next hop AFI (2))... */
  | { code: 5; name: "extended-next-hop"; entries: { afi: number; safi: number; nextHopAfi: number }[] }
  | { code: 6; name: "extended-message" }
  /** RFC 4724 §3: flags (4 bits), restart time (12 bits), then (AFI, SAFI, flags)... */
  | { code: 64; name: "graceful-restart"; restartFlags: number; restartTime: number; families: FamilyFlags[] }
  | { code: 65; name: "four-octet-as"; asn: number }
  /** RFC 7911 §4: (AFI (2), SAFI (1), Send/Receive (1))...; 1 receive, 2 send, 3 both. */
  | { code: 69; name: "add-path"; families: { afi: number; safi: number; sendReceive: number }[] }
  | { code: 70; name: "enhanced-route-refresh" }
  /** RFC 9494 §3: (AFI (2), SAFI (1), flags (1), long-lived stale time (3))... */
  | { code: 71; name: "long-lived-graceful-restart"; families: (FamilyFlags & { staleTime: number })[] }
  /** draft-walton-bgp-hostname-capability: hostname and domain, each length-prefixed. */
  | { code: 73; name: "fqdn"; hostname: string; domain: string }
  /** draft-abraitis-bgp-version-capability: a length-prefixed string. */
  | { code: 75; name: "software-version"; value: string }
  | { code: 128; name: "route-refresh-cisco" }
  | { code: number; name: "unknown"; valueHex: string };

function malformed(code: number, length: number, expected: string): never {
  throw sessionReset(
    ErrorCode.OPEN_MESSAGE,
    OpenSubcode.UNSPECIFIC,
    `capability ${code} has length ${length}, expected ${expected}`,
  );
}

function records(v: Buffer, code: number, size: number, fixed = 0): number {
  if (v.length < fixed || (v.length - fixed) % size !== 0) malformed(code, v.length, `${fixed} + ${size}n`);
  return (v.length - fixed) / size;
}

function lengthPrefixed(v: Buffer, off: number, code: number): [string, number] {
  const n = v[off];
  if (n === undefined || off + 1 + n > v.length) malformed(code, v.length, "a length-prefixed string");
  return [v.toString("utf8", off + 1, off + 1 + n), off + 1 + n];
}

/** Decodes one capability value; throws a session-reset BgpError (OPEN 2/0) when malformed. */
export function decodeCapability(code: number, v: Buffer): Capability {
  const empty = (name: string): Capability => {
    if (v.length !== 0) malformed(code, v.length, "0");
    return { code, name } as Capability;
  };
  switch (code) {
    case CapabilityCode.MULTIPROTOCOL:
      if (v.length !== 4) malformed(code, v.length, "4");
      return { code, name: "multiprotocol", afi: v.readUInt16BE(0), safi: v[3]! };
    case CapabilityCode.ROUTE_REFRESH:
      return empty("route-refresh");
    case CapabilityCode.EXTENDED_NEXT_HOP: {
      const n = records(v, code, 6);
      const entries = Array.from({ length: n }, (_, i) => ({
        afi: v.readUInt16BE(i * 6),
        safi: v.readUInt16BE(i * 6 + 2),
        nextHopAfi: v.readUInt16BE(i * 6 + 4),
      }));
      return { code, name: "extended-next-hop", entries };
    }
    case CapabilityCode.EXTENDED_MESSAGE:
      return empty("extended-message");
    case CapabilityCode.GRACEFUL_RESTART: {
      const n = records(v, code, 4, 2);
      const word = v.readUInt16BE(0);
      const families = Array.from({ length: n }, (_, i) => ({
        afi: v.readUInt16BE(2 + i * 4),
        safi: v[4 + i * 4]!,
        flags: v[5 + i * 4]!,
      }));
      return {
        code,
        name: "graceful-restart",
        restartFlags: word >> 12,
        restartTime: word & 0xfff,
        families,
      };
    }
    case CapabilityCode.FOUR_OCTET_AS:
      if (v.length !== 4) malformed(code, v.length, "4");
      return { code, name: "four-octet-as", asn: v.readUInt32BE(0) };
    case CapabilityCode.ADD_PATH: {
      const n = records(v, code, 4);
      const families = Array.from({ length: n }, (_, i) => ({
        afi: v.readUInt16BE(i * 4),
        safi: v[i * 4 + 2]!,
        sendReceive: v[i * 4 + 3]!,
      }));
      return { code, name: "add-path", families };
    }
    case CapabilityCode.ENHANCED_ROUTE_REFRESH:
      return empty("enhanced-route-refresh");
    case CapabilityCode.LONG_LIVED_GRACEFUL_RESTART: {
      const n = records(v, code, 7);
      const families = Array.from({ length: n }, (_, i) => ({
        afi: v.readUInt16BE(i * 7),
        safi: v[i * 7 + 2]!,
        flags: v[i * 7 + 3]!,
        staleTime: v.readUIntBE(i * 7 + 4, 3),
      }));
      return { code, name: "long-lived-graceful-restart", families };
    }
    case CapabilityCode.FQDN: {
      const [hostname, off] = lengthPrefixed(v, 0, code);
      const [domain, end] = lengthPrefixed(v, off, code);
      if (end !== v.length) malformed(code, v.length, "hostname and domain only");
      return { code, name: "fqdn", hostname, domain };
    }
    case CapabilityCode.SOFTWARE_VERSION: {
      const [value, end] = lengthPrefixed(v, 0, code);
      if (end !== v.length) malformed(code, v.length, "one length-prefixed string");
      return { code, name: "software-version", value };
    }
    case CapabilityCode.ROUTE_REFRESH_CISCO:
      return empty("route-refresh-cisco");
    default:
      return { code, name: "unknown", valueHex: v.toString("hex").toUpperCase() };
  }
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function prefixedString(text: string): Buffer {
  const b = Buffer.from(text, "utf8");
  if (b.length > 255)
    throw new EncodeError(`capability string longer than 255 octets: ${text.slice(0, 20)}...`);
  return Buffer.concat([Buffer.from([b.length]), b]);
}

export function encodeCapabilityValue(c: Capability): Buffer {
  switch (c.name) {
    case "multiprotocol":
      return Buffer.concat([u16(c.afi), Buffer.from([0, c.safi])]);
    case "extended-next-hop":
      return Buffer.concat(c.entries.flatMap((e) => [u16(e.afi), u16(e.safi), u16(e.nextHopAfi)]));
    case "graceful-restart":
      return Buffer.concat([
        u16(((c.restartFlags & 0xf) << 12) | (c.restartTime & 0xfff)),
        ...c.families.map((f) => Buffer.concat([u16(f.afi), Buffer.from([f.safi, f.flags])])),
      ]);
    case "four-octet-as": {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(c.asn >>> 0);
      return b;
    }
    case "add-path":
      return Buffer.concat(
        c.families.map((f) => Buffer.concat([u16(f.afi), Buffer.from([f.safi, f.sendReceive])])),
      );
    case "long-lived-graceful-restart":
      return Buffer.concat(
        c.families.map((f) => {
          const b = Buffer.alloc(7);
          b.writeUInt16BE(f.afi, 0);
          b[2] = f.safi;
          b[3] = f.flags;
          b.writeUIntBE(f.staleTime, 4, 3);
          return b;
        }),
      );
    case "fqdn":
      return Buffer.concat([prefixedString(c.hostname), prefixedString(c.domain)]);
    case "software-version":
      return prefixedString(c.value);
    case "unknown":
      return Buffer.from(c.valueHex, "hex");
    default:
      return Buffer.alloc(0);
  }
}

export function encodeCapability(c: Capability): Buffer {
  const v = encodeCapabilityValue(c);
  if (v.length > 255) throw new EncodeError(`capability ${c.code} longer than 255 octets`);
  return Buffer.concat([Buffer.from([c.code, v.length]), v]);
}
