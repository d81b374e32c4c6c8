// Who is who in a load run. Route data stays in the benchmark ranges and is never contacted:
// prefixes are /26s from 100.64.0.0/10, next hops come from 100.127.0.0/16 (the top of the same
// block, past any prefix used: 65,536 /26s end at 100.127.255.192 only for N*k > 61,000, which
// no scenario reaches), node addresses are loopback 127.1.0.0/16 and up.
export const PREFIX_BASE = ((100 << 24) | (64 << 16)) >>> 0;
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
