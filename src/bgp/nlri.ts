// NLRI encoding (RFC 4271 §4.3, RFC 4760 §5) with optional ADD-PATH Path Identifiers (RFC 7911 §3).
//
//   +---------------------------+
//   | Path Identifier (4 octets) |   only when ADD-PATH is negotiated for the family
//   +---------------------------+
//   | Length (1 octet, in bits)  |
//   +---------------------------+
//   | Prefix (variable)          |   ceil(Length / 8) octets
//   +---------------------------+
import { Afi } from "./constants.js";
import { EncodeError } from "./errors.js";
import { formatPrefix, parsePrefix } from "./ip.js";

/** A prefix as text, or with its ADD-PATH Path Identifier. */
export type Nlri = string | { pathId: number; prefix: string };

export function nlriPrefix(n: Nlri): string {
  return typeof n === "string" ? n : n.prefix;
}

/** Why a run of NLRI could not be parsed, or undefined when it is well formed. */
export function checkNlri(
  buf: Uint8Array,
  start: number,
  end: number,
  afi: number,
  addPath: boolean,
): string | undefined {
  const max = afi === Afi.IPV4 ? 32 : 128;
  let off = start;
  while (off < end) {
    if (addPath) {
      if (off + 5 > end) return `truncated path identifier at offset ${off - start}`;
      off += 4;
    }
    const bits = buf[off]!;
    if (bits > max) return `prefix length ${bits} exceeds ${max}`;
    off += 1 + ((bits + 7) >> 3);
    if (off > end) return `prefix of length ${bits} overruns the field`;
  }
  return undefined;
}

/** Decodes a well-formed run of NLRI (call checkNlri first). */
export function decodeNlri(buf: Buffer, start: number, end: number, afi: number, addPath: boolean): Nlri[] {
  const out: Nlri[] = [];
  let off = start;
  while (off < end) {
    let pathId = 0;
    if (addPath) {
      pathId = buf.readUInt32BE(off);
      off += 4;
    }
    const bits = buf[off]!;
    const prefix = formatPrefix(afi, buf, off + 1, bits);
    off += 1 + ((bits + 7) >> 3);
    out.push(addPath ? { pathId, prefix } : prefix);
  }
  return out;
}

export function encodeNlri(list: readonly Nlri[], afi: number, addPath: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const n of list) {
    const p = parsePrefix(nlriPrefix(n));
    if (p.afi !== afi) throw new EncodeError(`prefix ${nlriPrefix(n)} is not of address family ${afi}`);
    if (addPath) {
      const id = Buffer.alloc(4);
      id.writeUInt32BE(typeof n === "string" ? 0 : n.pathId >>> 0);
      parts.push(id);
    } else if (typeof n !== "string") {
      throw new EncodeError(`path identifier on ${n.prefix} but ADD-PATH is not in use for this family`);
    }
    parts.push(Buffer.from([p.bits]), p.bytes);
  }
  return Buffer.concat(parts);
}

/**
 * The hot-path form of IPv4 NLRI: appends (pathId, address, length) triples as numbers to
 * `out`, with no strings or objects per prefix. Returns the number of prefixes, or -1 when
 * the field is malformed.
 */
export function scanIpv4Nlri(
  buf: Uint8Array,
  start: number,
  end: number,
  addPath: boolean,
  out: number[],
): number {
  let off = start;
  let count = 0;
  while (off < end) {
    let pathId = 0;
    if (addPath) {
      if (off + 5 > end) return -1;
      pathId = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
      off += 4;
    }
    const bits = buf[off]!;
    const n = (bits + 7) >> 3;
    if (bits > 32 || off + 1 + n > end) return -1;
    let addr = 0;
    for (let i = 0; i < 4; i++) addr = (addr << 8) | (i < n ? buf[off + 1 + i]! : 0);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    out.push(pathId, (addr & mask) >>> 0, bits);
    off += 1 + n;
    count++;
  }
  return count;
}
