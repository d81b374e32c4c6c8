// Interned attribute sets (after BIRD's rta cache and OpenBGPD's rde_attr): one object per
// distinct attribute block, keyed by its octets, shared by every route that carries it, freed
// when the last route lets go. The reflector caches encoded outbound forms on it.
import type { OutboundBlock, PathAttributes } from "../bgp/index.js";

export interface AttrSet {
  readonly key: string;
  /** decoded once; RFC 6793 reconciled; MP_REACH_NLRI kept for its next hop, without NLRI */
  readonly attributes: PathAttributes;
  refs: number;
  /** outbound forms, encoded, by receiver kind (filled by the reflector): IPv4, IPv6 */
  readonly outbound4: Map<string, OutboundBlock>;
  readonly outbound6: Map<string, OutboundBlock>;
  /** sets made from this one by import filters' operations, by filter and rule (see derive) */
  derived?: Map<string, AttrSet>;
}

export class AttrTable {
  private readonly sets = new Map<string, AttrSet>();

  get size(): number {
    return this.sets.size;
  }

  /** The shared set for these octets, if a route holds it. */
  find(key: string): AttrSet | undefined {
    return this.sets.get(key);
  }

  /** The shared set for these octets; `decode` runs only when the octets are new. */
  intern(key: string, decode: () => PathAttributes): AttrSet {
    let set = this.sets.get(key);
    if (!set) {
      set = { key, attributes: decode(), refs: 0, outbound4: new Map(), outbound6: new Map() };
      this.sets.set(key, set);
    }
    return set;
  }

  /**
   * The set an import filter's operations make of `set` (`key` names the filter and its rule).
   * It lives on `set`, not in the table: it goes when `set` goes.
   */
  derive(set: AttrSet, key: string, build: () => PathAttributes): AttrSet {
    set.derived ??= new Map();
    let d = set.derived.get(key);
    if (!d) {
      d = {
        key: `${set.key}#${key}`,
        attributes: build(),
        refs: 0,
        outbound4: new Map(),
        outbound6: new Map(),
      };
      set.derived.set(key, d);
    }
    return d;
  }

  retain(set: AttrSet): void {
    set.refs++;
  }

  release(set: AttrSet): void {
    if (--set.refs <= 0) this.sets.delete(set.key);
  }
}
