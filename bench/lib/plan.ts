// Who is who in a load run. Route data stays in the benchmark ranges and is never contacted:
// prefixes are /26s from 100.64.0.0/10, next hops come from 100.127.0.0/16 (the top of the same
// block, past any prefix used: 65,536 /26s end at 100.127.255.192 only for N*k > 61,000, which
// no scenario reaches), node addresses are loopback 127.1.0.0/16 and up. The fanout source's
// routes are /32s from 198.18.0.0/15.
export const PREFIX_BASE = ((100 << 24) | (64 << 16)) >>> 0;
export const FANOUT_BASE = ((198 << 24) | (18 << 16)) >>> 0;
const NEXT_HOP_BASE = ((100 << 24) | (127 << 16)) >>> 0;
export const MAX_ROUTES = 61_000;

const dotted = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** The loopback address node i connects from: 127.<base>.0.1 and up. */
export function clientAddress(i: number, base = 1): string {
  const n = i + 1;
  return `127.${base + (n >>> 16)}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Node i's NEXT_HOP (an attribute only; never contacted). */
export function clientNextHop(i: number): string {
  return dotted(NEXT_HOP_BASE + i + 1);
}

/** The index-th /26 of the run. */
export function prefixOf(index: number): string {
  return `${dotted(PREFIX_BASE + index * 64)}/26`;
}

/** The index-th /32 of the fanout source. */
export function fanoutPrefixOf(index: number): string {
  return `${dotted(FANOUT_BASE + index)}/32`;
}

// calico-mesh-v6, inside a network namespace the run makes: node i's address is fd42:4242:1::<i+1>
// (addresses only there), its NEXT_HOP 2001:db8:ffff::<i+1>, and route index j is the /122 at
// 2001:db8::<j * 64> (the last 32 bits).
const hex = (n: number) => n.toString(16);

export function clientAddress6(i: number): string {
  return `fd42:4242:1::${hex(i + 1)}`;
}

export function clientNextHop6(i: number): string {
  return `2001:db8:ffff::${hex(i + 1)}`;
}

/** the first 12 octets of every /122 of the run: 2001:db8::/96 */
export const PREFIX6_HEAD = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0];

export function prefix6Of(index: number): string {
  const low = index * 64;
  return `2001:db8::${hex(Math.floor(low / 65536))}:${hex(low % 65536)}/122`;
}
