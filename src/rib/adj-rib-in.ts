// Adj-RIB-In: the routes one peer announced, with implicit withdraw (RFC 4271 §3.1) and stale
// marking for graceful restart (RFC 4724 §4.2) and enhanced route refresh (RFC 7313 §4).
// Routes point at interned attribute sets (attr-table.ts).
import { type Family, familyOf, type Nlri, type UpdateMessage } from "../bgp/index.js";
import type { AttrSet, AttrTable } from "./attr-table.js";
import { type PrefixKey, prefixKey } from "./keys.js";

export interface Route {
  family: Family;
  prefix: string;
  pathId: number;
  attrs: AttrSet;
  stale: boolean;
}

export interface Withdrawal {
  family: Family;
  prefix: string;
  pathId: number;
}

export interface RibChange {
  announced: Route[];
  withdrawn: Withdrawal[];
}

function split(n: Nlri): [string, number] {
  return typeof n === "string" ? [n, 0] : [n.prefix, n.pathId];
}

export class AdjRibIn {
  private readonly routes = new Map<PrefixKey, Route>();
  private readonly counts: Record<Family, number> = { ipv4: 0, ipv6: 0 };

  constructor(private readonly table: AttrTable) {}

  count(family: Family): number {
    return this.counts[family];
  }

  get size(): number {
    return this.routes.size;
  }

  /** The route the peer sent for this prefix and Path Identifier, if it holds one. */
  get(family: Family, prefix: string, pathId = 0): Route | undefined {
    return this.routes.get(prefixKey(family, prefix, pathId));
  }

  *entries(family?: Family): IterableIterator<Route> {
    for (const r of this.routes.values()) if (!family || r.family === family) yield r;
  }

  /**
   * Applies a decoded UPDATE whose announcements carry `attrs`. With `treatAsWithdraw`
   * (RFC 7606), what it announces is withdrawn instead.
   */
  apply(m: UpdateMessage, attrs: AttrSet | undefined, treatAsWithdraw = false): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    const { mpReach, mpUnreach } = m.attributes;
    for (const n of m.withdrawn) this.remove("ipv4", n, change);
    const unreach = mpUnreach && familyOf(mpUnreach.afi, mpUnreach.safi);
    if (unreach) for (const n of mpUnreach!.withdrawn) this.remove(unreach, n, change);
    const reach = mpReach && familyOf(mpReach.afi, mpReach.safi);
    const announce = (family: Family, list: Nlri[]) => {
      for (const n of list) {
        if (treatAsWithdraw || !attrs) this.remove(family, n, change);
        else this.add(family, n, attrs, change);
      }
    };
    announce("ipv4", m.nlri);
    if (reach) announce(reach, mpReach!.nlri);
    return change;
  }

  private add(family: Family, n: Nlri, attrs: AttrSet, change: RibChange): void {
    const [prefix, pathId] = split(n);
    const k = prefixKey(family, prefix, pathId);
    const old = this.routes.get(k);
    if (old)
      this.table.release(old.attrs); // implicit withdraw
    else this.counts[family]++;
    this.table.retain(attrs);
    const route: Route = { family, prefix, pathId, attrs, stale: false };
    this.routes.set(k, route);
    change.announced.push(route);
  }

  private remove(family: Family, n: Nlri, change: RibChange): void {
    const [prefix, pathId] = split(n);
    const k = prefixKey(family, prefix, pathId);
    const r = this.routes.get(k);
    if (r) this.drop(k, r, change);
  }

  private drop(k: PrefixKey, r: Route, change: RibChange): void {
    this.routes.delete(k);
    this.counts[r.family]--;
    this.table.release(r.attrs);
    change.withdrawn.push({ family: r.family, prefix: r.prefix, pathId: r.pathId });
  }

  markStale(family: Family): number {
    let n = 0;
    for (const r of this.routes.values()) {
      if (r.family === family) {
        r.stale = true;
        n++;
      }
    }
    return n;
  }

  /**
   * RFC 9494 §4.2: the family's stale routes become long-lived stale. `keep` gives the attribute
   * set a route keeps them with (LLGR_STALE added), or undefined for a route that goes (NO_LLGR).
   */
  longLived(family: Family, keep: (attrs: AttrSet) => AttrSet | undefined): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    for (const [k, r] of this.routes) {
      if (r.family !== family || !r.stale) continue;
      const attrs = keep(r.attrs);
      if (!attrs) {
        this.drop(k, r, change);
        continue;
      }
      if (attrs === r.attrs) continue;
      this.table.retain(attrs);
      this.table.release(r.attrs);
      r.attrs = attrs;
      change.announced.push(r);
    }
    return change;
  }

  /** Removes the family's routes still marked stale. */
  sweep(family: Family): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    for (const [k, r] of this.routes) if (r.family === family && r.stale) this.drop(k, r, change);
    return change;
  }

  clear(family?: Family): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    for (const [k, r] of this.routes) if (!family || r.family === family) this.drop(k, r, change);
    return change;
  }
}
