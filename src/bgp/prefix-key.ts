// Prefix keys: the one form a prefix has between the wire and the edges (CLI, HTTP, logs). An
// IPv4 prefix without a Path Identifier, nearly every route a Calico cluster carries, is a number
// (address × 64 + length, below 2^38). Anything else is a short Latin-1 string of octets: the
// family (4 or 6), the Path Identifier (4 octets), the length, then the prefix's ceil(length / 8)
// address octets with host bits cleared. Both are read from and written to NLRI directly; text is
// made only where a person reads it (formatKey) or typed it (prefixKey).
import ipaddr from "ipaddr.js";
import { Afi } from "./constants.js";
import type { Family } from "./family.js";
import { ipv4Number } from "./ip.js";

export type PrefixKey = number | string;

/** where the fields of a string key are */
const PATH_ID = 1;
const BITS = 5;
const ADDR = 6;
/** a string key is written here, then read out as one string */
const scratch = Buffer.alloc(ADDR + 16);

/** A key from NLRI octets: `bits` long, the address at buf[off, off + ceil(bits / 8)). */
export function wireKey(buf: Uint8Array, off: number, afi: number, bits: number, pathId: number): PrefixKey {
  const n = (bits + 7) >> 3;
  const last = bits & 7 ? (0xff << (8 - (bits & 7))) & 0xff : 0xff;
  if (afi === Afi.IPV4 && pathId === 0) {
    let addr = 0;
    for (let i = 0; i < 4; i++) addr = addr * 256 + (i < n ? buf[off + i]! & (i === n - 1 ? last : 0xff) : 0);
    return addr * 64 + bits;
  }
  scratch[0] = afi === Afi.IPV4 ? 4 : 6;
  scratch.writeUInt32BE(pathId >>> 0, PATH_ID);
  scratch[BITS] = bits;
  for (let i = 0; i < n; i++) scratch[ADDR + i] = buf[off + i]! & (i === n - 1 ? last : 0xff);
  return scratch.toString("latin1", 0, ADDR + n);
}

/** An IPv4 key from numbers (the address with host bits cleared). */
export function ipv4Key(addr: number, bits: number, pathId = 0): PrefixKey {
  if (pathId === 0) return addr * 64 + bits;
  const octets = [addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff];
  return wireKey(Uint8Array.from(octets), 0, Afi.IPV4, bits, pathId);
}

export function keyFamily(k: PrefixKey): Family {
  return typeof k === "number" || k.charCodeAt(0) === 4 ? "ipv4" : "ipv6";
}

export function keyBits(k: PrefixKey): number {
  return typeof k === "number" ? k % 64 : k.charCodeAt(BITS);
}

export function keyPathId(k: PrefixKey): number {
  if (typeof k === "number") return 0;
  const c = (i: number) => k.charCodeAt(PATH_ID + i);
  return ((c(0) << 24) | (c(1) << 16) | (c(2) << 8) | c(3)) >>> 0;
}

/** The key of the prefix alone: what the Loc-RIB keys a destination by. */
export function destKey(k: PrefixKey): PrefixKey {
  if (typeof k === "number" || keyPathId(k) === 0) return k;
  if (k.charCodeAt(0) === 4) return ipv4Key(ipv4Address(k), keyBits(k));
  return `${k.slice(0, PATH_ID)}\0\0\0\0${k.slice(BITS)}`;
}

/** The address octet `i` of a key (0 past the prefix). */
export function keyOctet(k: PrefixKey, i: number): number {
  if (typeof k === "number") return i < 4 ? Math.floor(k / 64 / 2 ** (24 - 8 * i)) & 0xff : 0;
  return ADDR + i < k.length ? k.charCodeAt(ADDR + i) : 0;
}

/** The key of a route: its prefix (a destination's key) with the peer's Path Identifier. */
export function withPathId(k: PrefixKey, pathId: number): PrefixKey {
  if (pathId === 0) return k;
  if (typeof k === "number") return ipv4Key(Math.floor(k / 64), k % 64, pathId);
  return (
    k.slice(0, PATH_ID) +
    String.fromCharCode(pathId >>> 24, (pathId >>> 16) & 0xff, (pathId >>> 8) & 0xff, pathId & 0xff) +
    k.slice(BITS)
  );
}

/** An IPv4 key's address as an unsigned number. */
export function ipv4Address(k: PrefixKey): number {
  if (typeof k === "number") return Math.floor(k / 64);
  let addr = 0;
  for (let i = 0; i < 4; i++) addr = addr * 256 + keyOctet(k, i);
  return addr;
}

/** Octets the prefix takes in NLRI (with a Path Identifier when `addPath`). */
export function nlriSize(k: PrefixKey, addPath: boolean): number {
  return (addPath ? 5 : 1) + ((keyBits(k) + 7) >> 3);
}

/** Writes the prefix as NLRI at buf[off], with `pathId` first when `addPath`; the offset after it. */
export function writeNlri(
  k: PrefixKey,
  buf: Uint8Array,
  off: number,
  addPath: boolean,
  pathId: number,
): number {
  if (addPath) {
    buf[off] = pathId >>> 24;
    buf[off + 1] = (pathId >>> 16) & 0xff;
    buf[off + 2] = (pathId >>> 8) & 0xff;
    buf[off + 3] = pathId & 0xff;
    off += 4;
  }
  const bits = keyBits(k);
  buf[off++] = bits;
  const n = (bits + 7) >> 3;
  if (typeof k === "number") {
    const addr = Math.floor(k / 64);
    for (let i = 0; i < n; i++) buf[off++] = (addr >>> (24 - 8 * i)) & 0xff;
  } else {
    for (let i = 0; i < n; i++) buf[off++] = k.charCodeAt(ADDR + i);
  }
  return off;
}

/** The prefix as text: "198.18.0.0/15" or "2001:db8::/32" (without its Path Identifier). */
export function formatKey(k: PrefixKey): string {
  const bits = keyBits(k);
  if (keyFamily(k) === "ipv4") {
    const a = ipv4Address(k);
    return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}/${bits}`;
  }
  const octets: number[] = [];
  for (let i = 0; i < 16; i++) octets.push(keyOctet(k, i));
  return `${ipaddr.fromByteArray(octets).toString()}/${bits}`;
}

/**
 * The key of a prefix written as text (with its Path Identifier, when it has one), host bits
 * cleared; the caller has checked the text (a prefix this program wrote, or a parsed CIDR).
 */
export function prefixKey(family: Family, prefix: string, pathId = 0): PrefixKey {
  const slash = prefix.indexOf("/");
  let bits = 0;
  for (let i = slash + 1; i < prefix.length; i++) bits = bits * 10 + prefix.charCodeAt(i) - 48;
  if (family === "ipv4") {
    const addr = ipv4Number(prefix, slash);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ipv4Key((addr & mask) >>> 0, bits, pathId);
  }
  const octets = ipaddr.IPv6.parse(prefix.slice(0, slash)).toByteArray();
  return wireKey(Uint8Array.from(octets), 0, Afi.IPV6, bits, pathId);
}

/**
 * A Map keyed by prefix keys that holds an IPv4 key as its address, a small integer, in a Map
 * per length: V8 then keeps no heap number per key (a number key above 2^31 is one), and hashes
 * integers faster. Other keys are strings in a Map of their own. Iteration goes by family and
 * length, then in insertion order.
 */
export class PrefixMap<V> {
  /** IPv4 without a Path Identifier, by length, keyed by the address as an int32 */
  private readonly ipv4: (Map<number, V> | undefined)[] = [];
  private readonly other = new Map<string, V>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(k: PrefixKey): V | undefined {
    if (typeof k !== "number") return this.other.get(k);
    return this.ipv4[k % 64]?.get(Math.floor(k / 64) | 0);
  }

  has(k: PrefixKey): boolean {
    return this.get(k) !== undefined;
  }

  set(k: PrefixKey, v: V): void {
    if (typeof k !== "number") {
      const before = this.other.size;
      this.count += this.other.set(k, v).size - before;
      return;
    }
    let map = this.ipv4[k % 64];
    if (!map) {
      map = new Map();
      this.ipv4[k % 64] = map;
    }
    const before = map.size;
    this.count += map.set(Math.floor(k / 64) | 0, v).size - before;
  }

  delete(k: PrefixKey): boolean {
    const gone =
      typeof k === "number"
        ? (this.ipv4[k % 64]?.delete(Math.floor(k / 64) | 0) ?? false)
        : this.other.delete(k);
    if (gone) this.count--;
    return gone;
  }

  /** Every entry; deleting the entry being visited is safe. */
  forEach(visit: (v: V, k: PrefixKey) => void): void {
    this.ipv4.forEach((map, bits) => {
      map?.forEach((v, a) => {
        visit(v, (a >>> 0) * 64 + bits);
      });
    });
    this.other.forEach(visit);
  }

  *entries(): IterableIterator<[PrefixKey, V]> {
    for (let bits = 0; bits < this.ipv4.length; bits++) {
      const map = this.ipv4[bits];
      if (map) for (const [a, v] of map) yield [(a >>> 0) * 64 + bits, v];
    }
    yield* this.other;
  }

  *keys(): IterableIterator<PrefixKey> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): IterableIterator<V> {
    for (const map of this.ipv4) if (map) yield* map.values();
    yield* this.other.values();
  }
}
