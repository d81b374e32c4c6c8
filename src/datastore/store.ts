// The resources a datastore source has delivered, keyed by kind and name, plus the secrets that hold
// BGP passwords. Sources put and delete; a relist replaces everything at once and changes only
// what differs. Listeners hear "change" once per batch of events.
import { EventEmitter } from "node:events";
import type { SecretLookup, Snapshot } from "./peerings.js";
import type {
  BgpConfigResource,
  BgpFilterResource,
  BgpPeerResource,
  IpPoolResource,
  NodeResource,
  ReflectorEntry,
  Resource,
  SecretRef,
} from "./resources.js";

export type Secrets = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** The equality of two parsed resources: their JSON (selectors serialise as their text). */
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** How the store names a resource; sources use it for the keys of `replace`'s kept versions. */
export const resourceKey = (r: { kind: Resource["kind"]; name: string }): string => `${r.kind}/${r.name}`;

export class Store extends EventEmitter<{ change: [] }> {
  private readonly resources = new Map<string, Resource>();
  private readonly secrets = new Map<string, Record<string, string>>();
  private cached: Snapshot | undefined;
  private pending = false;
  /** the initial list is complete: deletions may apply */
  synced = false;
  /** when the last change arrived (ms since the epoch) */
  lastChangeAt: number | undefined;

  get size(): number {
    return this.resources.size;
  }

  put(r: Resource): void {
    const key = resourceKey(r);
    if (same(this.resources.get(key), r)) return;
    this.resources.set(key, r);
    this.changed();
  }

  delete(kind: Resource["kind"], name: string): void {
    if (this.resources.delete(resourceKey({ kind, name }))) this.changed();
  }

  putSecret(name: string, data: Record<string, string>): void {
    if (same(this.secrets.get(name), data)) return;
    this.secrets.set(name, data);
    this.changed();
  }

  deleteSecret(name: string): void {
    if (this.secrets.delete(name)) this.changed();
  }

  /**
   * A full list from a source: these resources of these kinds are all there is. Objects that
   * failed to parse keep their last good version (listed in `keep` by key).
   */
  replace(
    kinds: readonly Resource["kind"][],
    resources: Resource[],
    keep: ReadonlySet<string> = new Set(),
  ): void {
    const next = new Map(resources.map((r) => [resourceKey(r), r]));
    for (const [key, r] of this.resources) {
      if (kinds.includes(r.kind) && !next.has(key) && !keep.has(key)) this.delete(r.kind, r.name);
    }
    for (const r of next.values()) this.put(r);
  }

  replaceSecrets(secrets: Secrets): void {
    for (const name of [...this.secrets.keys()]) if (!secrets.has(name)) this.deleteSecret(name);
    for (const [name, data] of secrets) this.putSecret(name, { ...data });
  }

  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.changed();
  }

  snapshot(): Snapshot {
    if (this.cached) return this.cached;
    const nodes = new Map<string, NodeResource>();
    const peers = new Map<string, BgpPeerResource>();
    const configs = new Map<string, BgpConfigResource>();
    const filters = new Map<string, BgpFilterResource>();
    const pools = new Map<string, IpPoolResource>();
    const reflectors = new Map<string, ReflectorEntry>();
    for (const r of this.resources.values()) {
      if (r.kind === "Node") nodes.set(r.name, r);
      else if (r.kind === "BGPPeer") peers.set(r.name, r);
      else if (r.kind === "BGPConfiguration") configs.set(r.name, r);
      else if (r.kind === "BGPFilter") filters.set(r.name, r);
      else if (r.kind === "IPPool") pools.set(r.name, r);
      else reflectors.set(r.name, r);
    }
    this.cached = { nodes, peers, configs, filters, pools, reflectors };
    return this.cached;
  }

  readonly secret: SecretLookup = (ref: SecretRef) => this.secrets.get(ref.name)?.[ref.key];

  private changed(): void {
    this.cached = undefined;
    this.lastChangeAt = Date.now();
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.emit("change");
    });
  }
}
