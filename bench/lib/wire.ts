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

/** Octets of one route's prefix in an NLRI field: its length octet, `head`, four address octets. */
export function routeOctets(layout: RouteLayout): number {
  return 1 + layout.head.length + 4;
}

/**
 * Every route of the run as it appears in an NLRI field (RFC 4271 §4.3), route i at
 * i * routeOctets: what a prefix run received is compared with, byte for byte.
 */
export function nlriImage(layout: RouteLayout): Buffer {
  const per = routeOctets(layout);
  const image = Buffer.alloc(layout.routes * per);
  for (let i = 0; i < layout.routes; i++) {
    const at = i * per;
    image[at] = layout.bits;
    for (let h = 0; h < layout.head.length; h++) image[at + 1 + h] = layout.head[h] as number;
    image.writeInt32BE((layout.base + (i << layout.shift)) | 0, at + 1 + layout.head.length);
  }
  return image;
}

/**
 * How many prefixes from buf[off] on, up to `end`, are routes index, index + 1, ... of the run
 * (the first is known to be `index`): the next one compared by hand, then the whole field in one
 * memcmp against the image when it is one run (a packed table), else by doubling. A run costs a
 * few compares, not a decode per prefix, and prefixes in another order one short compare each.
 * It may stop short of the longest run (at most by half); the caller goes on from where it stops.
 */
export function matchedRun(
  buf: Buffer,
  off: number,
  end: number,
  image: Buffer,
  layout: RouteLayout,
  index: number,
): number {
  const per = routeOctets(layout);
  const most = Math.min(Math.floor((end - off) / per), layout.routes - index);
  // the next prefix first, by hand: a table sent in another order (FRR's) costs that alone
  if (most <= 1 || !same(buf, off, image, index, per, 1, 2)) return 1;
  // a packed table's field is one run: one compare
  if (same(buf, off, image, index, per, 2, most)) return most;
  let run = 2;
  while (run < most) {
    const next = Math.min(run * 2, most);
    if (!same(buf, off, image, index, per, run, next)) break;
    run = next;
  }
  return run;
}

/** The prefixes [from, to) after buf[off] are routes index + from ... index + to - 1 of the image. */
function same(buf: Buffer, off: number, image: Buffer, index: number, per: number, from: number, to: number) {
  const a = off + from * per;
  const b = (index + from) * per;
  const length = (to - from) * per;
  // a native compare costs a call of about 100 ns: a calico-mesh UPDATE's few prefixes compare faster here
  if (length >= 256) return buf.compare(image, b, b + length, a, a + length) === 0;
  for (let i = 0; i < length; i++) if (buf[a + i] !== image[b + i]) return false;
  return true;
}
