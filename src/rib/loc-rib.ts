// Loc-RIB: every eligible path of every prefix, and the best of each by the decision process.
// Changed prefixes are collected in `dirty` for the outbound side to take in batches; each keeps
// what it was at the last batch (as BIRD keeps the old best for its exports), so the outbound
// side sends a group a prefix only when what the group would be sent changed.
import { asPathLength, type Family, ipv4Number, WellKnownCommunity } from "../bgp/index.js";
import type { AttrSet } from "./attr-table.js";
import { type Candidate, selectBest } from "./decision.js";
import { type PrefixKey, prefixKey } from "./keys.js";

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
}

export interface Dest {
  family: Family;
  prefix: string;
  /** IPv4 prefixes as numbers, for the packed UPDATE writer */
  addr: number;
  bits: number;
  paths: Path[];
  best: Path | undefined;
  /** the best path and all paths when the outbound side last took the prefix (settle) */
  flushed: Path | undefined;
  flushedPaths: readonly Path[];
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
  private readonly dests = new Map<PrefixKey, Dest>();
  readonly dirty = new Set<Dest>();
  private nextId = 1;

  get size(): number {
    return this.dests.size;
  }

  /** The prefix written as the Loc-RIB writes it ("198.18.0.0/15"); other text finds nothing. */
  get(family: Family, prefix: string): Dest | undefined {
    const d = this.dests.get(prefixKey(family, prefix));
    return d?.prefix === prefix ? d : undefined;
  }

  *all(): IterableIterator<Dest> {
    yield* this.dests.values();
  }

  /** Adds a path, or replaces the one the peer had under the same Path Identifier. */
  upsert(peer: PeerRef, family: Family, prefix: string, pathId: number, attrs: AttrSet): void {
    const key = prefixKey(family, prefix);
    let d = this.dests.get(key);
    if (!d) {
      // The paths array starts at its one path: pushing onto [] would reserve 17 slots.
      const path: Path = { peer, pathId, attrs, id: this.nextId++, routerId: peer.routerId };
      // An IPv4 key is address x 64 + length (keys.ts): no need to read the text again.
      const v4 = typeof key === "number";
      const addr = v4 ? Math.floor(key / 64) : 0;
      const bits = v4 ? key % 64 : Number(prefix.slice(prefix.indexOf("/") + 1));
      d = {
        family,
        prefix,
        addr,
        bits,
        paths: [path],
        best: undefined,
        flushed: undefined,
        flushedPaths: NO_PATHS,
      };
      this.dests.set(key, d);
      this.reselect(d);
      return;
    }
    const i = d.paths.findIndex((p) => p.peer === peer && p.pathId === pathId);
    const id = i >= 0 ? d.paths[i]!.id : this.nextId++;
    const path: Path = { peer, pathId, attrs, id, routerId: peer.routerId };
    // The paths as last flushed are kept as they were: a change works on a copy.
    if (d.paths === d.flushedPaths) d.paths = d.paths.slice();
    if (i >= 0) d.paths[i] = path;
    else d.paths.push(path);
    this.reselect(d);
  }

  remove(peer: PeerRef, family: Family, prefix: string, pathId: number): void {
    const d = this.dests.get(prefixKey(family, prefix));
    if (!d) return;
    const i = d.paths.findIndex((p) => p.peer === peer && p.pathId === pathId);
    if (i < 0) return;
    if (d.paths === d.flushedPaths) {
      d.paths = d.paths.filter((_, j) => j !== i);
    } else {
      d.paths.copyWithin(i, i + 1); // splice would allocate an array of the removed path
      d.paths.pop();
    }
    this.reselect(d);
  }

  /** After the outbound side took a dirty prefix: it is noted as flushed, and an empty one is dropped. */
  settle(d: Dest): void {
    d.flushed = d.best;
    d.flushedPaths = d.paths;
    if (d.paths.length === 0) this.dests.delete(prefixKey(d.family, d.prefix));
  }

  private reselect(d: Dest): void {
    d.best = selectBest(d.paths, candidateOf);
    this.dirty.add(d);
  }
}
