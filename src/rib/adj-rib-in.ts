// Adj-RIB-In: the routes one peer announced, with implicit withdraw (RFC 4271 §3.1) and stale
// marking for graceful restart (RFC 4724 §4.2) and enhanced route refresh (RFC 7313 §4).
// A route is its prefix key (keys.ts) and the interned attribute set it points at
// (attr-table.ts): no object per route. Prefixes are read from the UPDATE's octets as keys,
// and every change goes to a RibSink as it happens.
import {
  type Family,
  formatKey,
  keyFamily,
  keyPathId,
  type PrefixKey,
  PrefixMap,
  wireKey,
} from "../bgp/index.js";
import type { AttrSet, AttrTable } from "./attr-table.js";

/** Where a peer's route changes go (the engine: the Loc-RIB). */
export interface RibSink {
  /** the route now carries these attributes (new, or in place of what it carried) */
  announce(key: PrefixKey, attrs: AttrSet): void;
  /** the route is gone */
  withdraw(key: PrefixKey): void;
}

/** A route as a person reads it (views()). */
export interface RouteView {
  prefix: string;
  pathId: number;
  attrs: AttrSet;
  stale: boolean;
}

export class AdjRibIn {
  private readonly routes = new PrefixMap<AttrSet>();
  /** routes marked stale (graceful restart, enhanced route refresh), until announced again */
  private readonly stale = new PrefixMap<true>();
  private readonly counts: Record<Family, number> = { ipv4: 0, ipv6: 0 };

  constructor(private readonly table: AttrTable) {}

  count(family: Family): number {
    return this.counts[family];
  }

  get size(): number {
    return this.routes.size;
  }

  /** The attributes of the route the peer sent under this key, if it holds one. */
  get(key: PrefixKey): AttrSet | undefined {
    return this.routes.get(key);
  }

  isStale(key: PrefixKey): boolean {
    return this.stale.has(key);
  }

  *entries(family?: Family): IterableIterator<[PrefixKey, AttrSet]> {
    for (const e of this.routes.entries()) if (!family || keyFamily(e[0]) === family) yield e;
  }

  /** The routes as text, for status and tests (not the hot path). */
  *views(family?: Family): IterableIterator<RouteView> {
    for (const [key, attrs] of this.entries(family))
      yield { prefix: formatKey(key), pathId: keyPathId(key), attrs, stale: this.stale.has(key) };
  }

  /** The route `key` carries `attrs` from now on (RFC 4271 §3.1: an implicit withdraw of what it had). */
  announce(key: PrefixKey, attrs: AttrSet, sink: RibSink): void {
    const old = this.routes.get(key);
    if (old) this.table.release(old);
    else this.counts[keyFamily(key)]++;
    this.table.retain(attrs);
    this.routes.set(key, attrs);
    if (this.stale.size) this.stale.delete(key);
    sink.announce(key, attrs);
  }

  withdraw(key: PrefixKey, sink: RibSink): void {
    const attrs = this.routes.get(key);
    if (attrs) this.drop(key, attrs, sink);
  }

  /**
   * The prefixes of a well-formed run of NLRI (checkNlri) at buf[start, end): announced with
   * `attrs`, or withdrawn when it is undefined.
   */
  nlri(
    buf: Uint8Array,
    start: number,
    end: number,
    afi: number,
    addPath: boolean,
    attrs: AttrSet | undefined,
    sink: RibSink,
  ): void {
    let off = start;
    while (off < end) {
      let pathId = 0;
      if (addPath) {
        pathId = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
        off += 4;
      }
      const bits = buf[off]!;
      const key = wireKey(buf, off + 1, afi, bits, pathId);
      off += 1 + ((bits + 7) >> 3);
      if (attrs) this.announce(key, attrs, sink);
      else this.withdraw(key, sink);
    }
  }

  private drop(key: PrefixKey, attrs: AttrSet, sink: RibSink): void {
    this.routes.delete(key);
    this.stale.delete(key);
    this.counts[keyFamily(key)]--;
    this.table.release(attrs);
    sink.withdraw(key);
  }

  markStale(family: Family): number {
    let n = 0;
    for (const key of this.routes.keys()) {
      if (keyFamily(key) !== family) continue;
      this.stale.set(key, true);
      n++;
    }
    return n;
  }

  /**
   * RFC 9494 §4.2: the family's stale routes become long-lived stale. `keep` gives the attribute
   * set a route keeps them with (LLGR_STALE added), or undefined for a route that goes (NO_LLGR).
   */
  longLived(family: Family, keep: (attrs: AttrSet) => AttrSet | undefined, sink: RibSink): void {
    for (const key of this.stale.keys()) {
      const attrs = this.routes.get(key);
      if (!attrs || keyFamily(key) !== family) continue;
      const kept = keep(attrs);
      if (!kept) this.drop(key, attrs, sink);
      else if (kept !== attrs) {
        this.table.retain(kept);
        this.table.release(attrs);
        this.routes.set(key, kept);
        sink.announce(key, kept);
      }
    }
  }

  /** Removes the family's routes still marked stale. */
  sweep(family: Family, sink: RibSink): void {
    // (deleting the entry being visited is safe: a Map's iteration goes on with the next)
    for (const key of this.stale.keys()) {
      const attrs = this.routes.get(key);
      if (attrs && keyFamily(key) === family) this.drop(key, attrs, sink);
    }
  }

  clear(family: Family | undefined, sink: RibSink): void {
    // forEach makes no entry array per route; deleting the entry being visited is safe
    this.routes.forEach((attrs, key) => {
      if (!family || keyFamily(key) === family) this.drop(key, attrs, sink);
    });
  }
}
