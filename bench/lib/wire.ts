// What a simulated node reads off the wire, in place and without allocating (clients.ts's hot
// loop: a fanout run reads 100 million prefixes): where an UPDATE's routes are, and which route
// of the run a prefix is.
import { FANOUT_BASE, PREFIX_BASE, PREFIX6_HEAD } from "./plan.js";

/**
 * Where a received prefix is in a node's bitmaps: its octets before the last four must be
 * `head`, and route index = (last four octets - base) >> shift, for prefixes of `bits` (the
 * /26s of calico-mesh, the /32s of fanout, the /122s of calico-mesh-v6), in int32 arithmetic.
 */
export interface RouteLayout {
  head: readonly number[];
  base: number;
  bits: number;
  shift: number;
  /** route indices are [0, routes) */
  routes: number;
}

export function routeLayout(family: 4 | 6, fanout: boolean, routes: number): RouteLayout {
  const head = family === 6 ? PREFIX6_HEAD : [];
  const bits = family === 6 ? 122 : fanout ? 32 : 26;
  const base = (family === 6 ? 0 : fanout ? FANOUT_BASE : PREFIX_BASE) | 0;
  return { head, base, bits, shift: head.length * 8 + 32 - bits, routes };
}

/** An UPDATE's routes: prefixes withdrawn at [gone, goneEnd), announced at [added, addedEnd). */
export interface Located {
  gone: number;
  goneEnd: number;
  added: number;
  addedEnd: number;
  /** RFC 4724 §2: End-of-RIB */
  endOfRib: boolean;
}

/**
 * Locates the routes of the UPDATE at buf[off, off + len) into `out`: the IPv4 fields (RFC 4271
 * §4.3) or, for IPv6, the prefixes in MP_UNREACH_NLRI and MP_REACH_NLRI (RFC 4760 §4, §3).
 */
export function locateRoutes(buf: Buffer, off: number, len: number, family: 4 | 6, out: Located): void {
  const end = off + len;
  const attrsAt = off + 21 + buf.readUInt16BE(off + 19);
  const nlriAt = attrsAt + 2 + buf.readUInt16BE(attrsAt);
  if (family === 4) {
    out.gone = off + 21;
    out.goneEnd = attrsAt;
    out.added = nlriAt;
    out.addedEnd = end;
    // an UPDATE with nothing in it
    out.endOfRib = len === 23;
    return;
  }
  out.gone = out.goneEnd = out.added = out.addedEnd = 0;
  for (let at = attrsAt + 2; at < nlriAt; ) {
    const extended = ((buf[at] as number) & 0x10) !== 0;
    const length = extended ? buf.readUInt16BE(at + 2) : (buf[at + 2] as number);
    const value = at + (extended ? 4 : 3);
    const type = buf[at + 1];
    // after AFI and SAFI; MP_REACH_NLRI also has the next hop and a reserved octet
    if (type === 15) {
      out.gone = value + 3;
      out.goneEnd = value + length;
    } else if (type === 14) {
      out.added = value + 5 + (buf[value + 3] as number);
      out.addedEnd = value + length;
    }
    at = value + length;
  }
  // only an MP_UNREACH_NLRI with nothing withdrawn (its 3-octet header and 3 octets of AFI, SAFI)
  out.endOfRib = nlriAt - attrsAt === 8 && out.gone > 0 && out.gone === out.goneEnd;
}

/** buf[at...] begins with these octets */
export function startsWith(buf: Buffer, at: number, head: readonly number[]): boolean {
  for (let i = 0; i < head.length; i++) if (buf[at + i] !== head[i]) return false;
  return true;
}

/** bits set in each byte value */
export const POP = Uint8Array.from({ length: 256 }, (_, b) => b.toString(2).replaceAll("0", "").length);

/** The seven prefixes at buf[off...] are the /32s after addr (whose last octet is a multiple of 8). */
export function runOfEight(buf: Buffer, off: number, addr: number): boolean {
  const a = (addr >>> 24) & 255;
  const b = (addr >>> 16) & 255;
  const c = (addr >>> 8) & 255;
  const d = addr & 255;
  for (let k = 1; k < 8; k++, off += 5) {
    if (
      buf[off] !== 32 ||
      buf[off + 1] !== a ||
      buf[off + 2] !== b ||
      buf[off + 3] !== c ||
      buf[off + 4] !== d + k
    )
      return false;
  }
  return true;
}
