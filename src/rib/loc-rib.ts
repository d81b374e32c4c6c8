// Loc-RIB: every eligible path of every prefix, and the best of each by the decision process.
// Changed prefixes are collected in `dirty` for the outbound side to take in batches; each keeps
// what it was at the last batch (as BIRD keeps the old best for its exports), so the outbound
// side sends a group a prefix only when what the group would be sent changed.
import ipaddr from "ipaddr.js";
import {
  asPathLength,
  destKey,
  type Family,
  formatKey,
  ipv4Number,
  keyBits,
  keyFamily,
  keyPathId,
  type PrefixKey,
  PrefixMap,
  prefixKey,
  WellKnownCommunity,
} from "../bgp/index.js";
import type { AttrSet } from "./attr-table.js";
import { type Candidate, selectBest } from "./decision.js";

/** What the decision process needs to know of the peer a path came from. */
export interface PeerRef {
  address: string;
  /** addressKey(address): sorts like the address */
  addressKey: string;
  /** the peer's BGP identifier */
  routerId: string;
  ebgp: boolean;
  role: string;
}

export interface Path {
  peer: PeerRef;
  /** the Path Identifier the peer gave it (ADD-PATH receive), else 0 */
  pathId: number;
  attrs: AttrSet;
  /** our Path Identifier for it, when we send ADD-PATH */
  id: number;
  /** the peer's BGP identifier when the path came (its ORIGINATOR_ID when reflected) */
  routerId: string;
  /** when it came with these attributes: whole seconds after the Loc-RIB's start (LocRib.time) */
  since: number;
}

export interface Dest {
  family: Family;
  /** the prefix (keys.ts; formatKey for its text) */
  key: PrefixKey;
  bits: number;
  paths: Path[];
  best: Path | undefined;
  /** the best path and all paths when the outbound side last took the prefix (settle) */
  flushed: Path | undefined;
  flushedPaths: readonly Path[];
  /** when the outbound side last took it: whole seconds after the Loc-RIB's start (LocRib.time) */
  flushedAt: number;
}

const NO_PATHS: readonly Path[] = Object.freeze([]);

const ORIGIN = { igp: 0, egp: 1, incomplete: 2 } as const;

export function candidateOf(p: Path): Candidate {
  const a = p.attrs.attributes;
  const first = a.asPath?.find((s) => s.type === "AS_SEQUENCE");
  return {
    llgrStale: a.communities?.includes(WellKnownCommunity.LLGR_STALE) ?? false,
    localPref: a.localPref ?? 100,
    asPathLength: asPathLength(a.asPath ?? []),
    origin: ORIGIN[a.origin ?? "incomplete"],
    med: a.med ?? 0,
    neighborAs: first?.asns[0] ?? 0,
    ebgp: p.peer.ebgp,
    clusterListLength: a.clusterList?.length ?? 0,
    routerId: ipv4Number(a.originatorId ?? p.peer.routerId),
    peerAddress: p.peer.addressKey,
  };
}

export class LocRib {
  private readonly dests = new PrefixMap<Dest>();
  readonly dirty = new Set<Dest>();
  private nextId = 1;

  /**
   * `start`: ms since the epoch. Times are kept as whole seconds after it, small integers that
   * V8 stores in the object itself: as ms since the epoch, each would be a heap number (about
   * 40 bytes a prefix more for a million prefixes).
   */
  constructor(private readonly start = 0) {}

  /** A time as the Loc-RIB keeps it (Path.since, Dest.flushedAt): `now` in whole seconds after its start. */
  stamp(now: number): number {
    return Math.floor((now - this.start) / 1000);
  }

  /** A stamp back as ms since the epoch. */
  time(stamp: number): number {
    return this.start + stamp * 1000;
  }

  get size(): number {
    return this.dests.size;
  }

  /** The prefix written as formatKey writes it ("198.18.0.0/15"); other text finds nothing. */
  get(family: Family, prefix: string): Dest | undefined {
    if (family === "ipv6" && !ipaddr.IPv6.isValid(prefix.slice(0, prefix.indexOf("/")))) return undefined;
    const d = this.dests.get(prefixKey(family, prefix));
    return d && formatKey(d.key) === prefix ? d : undefined;
  }

  /** The destination of a prefix key (its Path Identifier, if any, left aside). */
  dest(key: PrefixKey): Dest | undefined {
    return this.dests.get(typeof key === "number" ? key : destKey(key));
  }

  /**
   * The longest prefix held that covers this address (as a router's lookup of a destination),
   * or undefined; the address is text the caller has checked.
   */
  lookup(family: Family, address: string): Dest | undefined {
    if (family === "ipv4") {
      const addr = ipv4Number(address);
      for (let bits = 32; bits >= 0; bits--) {
        const net = addr - (addr % 2 ** (32 - bits));
        const d = this.dests.get(net * 64 + bits);
        if (d) return d;
      }
      return undefined;
    }
    const bytes = ipaddr.IPv6.parse(address).toByteArray();
    for (let bits = 128; bits >= 0; bits--) {
      const net = bytes.map((b, i) =>
        i * 8 >= bits ? 0 : i * 8 + 8 <= bits ? b : b & (0xff << (8 - (bits - i * 8))),
      );
      const d = this.get("ipv6", `${ipaddr.fromByteArray(net).toString()}/${bits}`);
      if (d) return d;
    }
    return undefined;
  }

  *all(): IterableIterator<Dest> {
    yield* this.dests.values();
  }

  /**
   * Adds a path (`key`: its prefix and the peer's Path Identifier), or replaces the one the peer
   * had under the same Path Identifier; `now` is when (the same attributes again keep the time
   * they first came).
   */
  upsert(peer: PeerRef, key: PrefixKey, attrs: AttrSet, now: number): void {
    const pathId = typeof key === "number" ? 0 : keyPathId(key);
    const dk = pathId === 0 ? key : destKey(key);
    let d = this.dests.get(dk);
    if (!d) {
      // The paths array starts at its one path: pushing onto [] would reserve 17 slots.
      const since = this.stamp(now);
      const path: Path = { peer, pathId, attrs, id: this.nextId++, routerId: peer.routerId, since };
      d = {
        family: keyFamily(dk),
        key: dk,
        bits: keyBits(dk),
        paths: [path],
        best: undefined,
        flushed: undefined,
        flushedPaths: NO_PATHS,
        flushedAt: since,
      };
      this.dests.set(dk, d);
      this.reselect(d);
      return;
    }
    const i = indexOf(d.paths, peer, pathId);
    const old = i >= 0 ? d.paths[i] : undefined;
    const id = old ? old.id : this.nextId++;
    const since = old?.attrs === attrs ? old.since : this.stamp(now);
    const path: Path = { peer, pathId, attrs, id, routerId: peer.routerId, since };
    // The paths as last flushed are kept as they were: a change works on a copy.
    if (d.paths.length === 0) d.paths = [path];
    else {
      if (d.paths === d.flushedPaths) d.paths = d.paths.slice();
      if (i >= 0) d.paths[i] = path;
      else d.paths.push(path);
    }
    this.reselect(d);
  }

  /** Removes the peer's path of `key` (its prefix and the peer's Path Identifier). */
  remove(peer: PeerRef, key: PrefixKey): void {
    const pathId = typeof key === "number" ? 0 : keyPathId(key);
    const d = this.dests.get(pathId === 0 ? key : destKey(key));
    if (!d) return;
    const i = indexOf(d.paths, peer, pathId);
    if (i < 0) return;
    // (the last path going, as when a peer's table is withdrawn, makes no array)
    if (d.paths.length === 1) d.paths = NO_PATHS as Path[];
    else if (d.paths === d.flushedPaths) {
      d.paths = d.paths.filter((_, j) => j !== i);
    } else {
      d.paths.copyWithin(i, i + 1); // splice would allocate an array of the removed path
      d.paths.pop();
    }
    this.reselect(d);
  }

  /** After the outbound side took a dirty prefix: it is noted as flushed, and an empty one is dropped. */
  settle(d: Dest, now: number): void {
    d.flushed = d.best;
    d.flushedPaths = d.paths;
    d.flushedAt = this.stamp(now);
    if (d.paths.length === 0) this.dests.delete(d.key);
  }

  private reselect(d: Dest): void {
    d.best = selectBest(d.paths, candidateOf);
    this.dirty.add(d);
  }
}

/** Where the peer's path under this Path Identifier is (-1: none). */
function indexOf(paths: readonly Path[], peer: PeerRef, pathId: number): number {
  for (let i = 0; i < paths.length; i++) {
    const p = paths[i]!;
    if (p.peer === peer && p.pathId === pathId) return i;
  }
  return -1;
}
