// Adj-RIB-In: the routes one peer announced, with implicit withdraw (RFC 4271 §3.1) and stale
// marking for graceful restart (RFC 4724 §4.2) and enhanced route refresh (RFC 7313 §4).
import { type Nlri, nlriPrefix, type PathAttributes, type UpdateMessage } from "../bgp/index.js";

export type Family = "ipv4" | "ipv6";

export interface Route {
  family: Family;
  prefix: string;
  pathId: number;
  /** shared by every route of the UPDATE that carried it */
  attributes: PathAttributes;
  stale: boolean;
}

export interface RibChange {
  announced: Route[];
  withdrawn: { family: Family; prefix: string; pathId: number }[];
}

const familyOfAfi = (afi: number): Family | undefined =>
  afi === 1 ? "ipv4" : afi === 2 ? "ipv6" : undefined;

function key(family: Family, n: Nlri): string {
  return typeof n === "string" ? `${family} ${n}` : `${family} ${n.prefix} ${n.pathId}`;
}

export class AdjRibIn {
  private readonly routes = new Map<string, Route>();
  private readonly counts: Record<Family, number> = { ipv4: 0, ipv6: 0 };

  count(family: Family): number {
    return this.counts[family];
  }

  get size(): number {
    return this.routes.size;
  }

  *entries(family?: Family): IterableIterator<Route> {
    for (const r of this.routes.values()) if (!family || r.family === family) yield r;
  }

  /**
   * Applies a decoded UPDATE. With `treatAsWithdraw` (RFC 7606), what it announces is withdrawn
   * instead. Attributes other than MP_REACH/MP_UNREACH are what the announced routes carry.
   */
  apply(m: UpdateMessage, treatAsWithdraw = false): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    const { mpReach, mpUnreach, ...rest } = m.attributes;
    const withdraw = (family: Family, list: Nlri[]) => {
      for (const n of list) this.remove(family, n, change);
    };
    withdraw("ipv4", m.withdrawn);
    const unreachFamily = mpUnreach && familyOfAfi(mpUnreach.afi);
    if (mpUnreach && unreachFamily && mpUnreach.safi === 1) withdraw(unreachFamily, mpUnreach.withdrawn);
    const reachFamily = mpReach && mpReach.safi === 1 ? familyOfAfi(mpReach.afi) : undefined;
    if (treatAsWithdraw) {
      withdraw("ipv4", m.nlri);
      if (reachFamily) withdraw(reachFamily, mpReach!.nlri);
      return change;
    }
    if (m.nlri.length) this.add("ipv4", m.nlri, rest, change);
    if (reachFamily && mpReach!.nlri.length) {
      const attributes: PathAttributes = { ...rest, mpReach: { ...mpReach!, nlri: [] } };
      this.add(reachFamily, mpReach!.nlri, attributes, change);
    }
    return change;
  }

  private add(family: Family, list: Nlri[], attributes: PathAttributes, change: RibChange): void {
    for (const n of list) {
      const k = key(family, n);
      const route: Route = {
        family,
        prefix: nlriPrefix(n),
        pathId: typeof n === "string" ? 0 : n.pathId,
        attributes,
        stale: false,
      };
      if (!this.routes.has(k)) this.counts[family]++; // otherwise an implicit withdraw
      this.routes.set(k, route);
      change.announced.push(route);
    }
  }

  private remove(family: Family, n: Nlri, change: RibChange): void {
    const k = key(family, n);
    const r = this.routes.get(k);
    if (!r) return;
    this.routes.delete(k);
    this.counts[family]--;
    change.withdrawn.push({ family, prefix: r.prefix, pathId: r.pathId });
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

  /** Removes the family's routes still marked stale. */
  sweep(family: Family): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    for (const [k, r] of this.routes) {
      if (r.family === family && r.stale) {
        this.routes.delete(k);
        this.counts[family]--;
        change.withdrawn.push({ family, prefix: r.prefix, pathId: r.pathId });
      }
    }
    return change;
  }

  clear(family?: Family): RibChange {
    const change: RibChange = { announced: [], withdrawn: [] };
    for (const [k, r] of this.routes) {
      if (family && r.family !== family) continue;
      this.routes.delete(k);
      this.counts[r.family]--;
      change.withdrawn.push({ family: r.family, prefix: r.prefix, pathId: r.pathId });
    }
    return change;
  }
}
