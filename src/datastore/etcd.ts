// The etcd v3 datastore, where calicoctl writes Calico resources (shared/calico-datamodel.md §2):
// list the prefixes at one revision, then watch from the next with previous values, as
// libcalico-go's etcdv3 watcher does. The etcd3 client reconnects with backoff and fails over
// between endpoints; a watch that etcd cancels (compaction) makes us list again and apply only
// the differences. While etcd is away nothing changes here: sessions and routes stay as they are.
import { resolveSrv } from "node:dns/promises";
import { setTimeout as delay } from "node:timers/promises";
import { rootCertificates } from "node:tls";
import { ExponentialBackoff } from "cockatiel";
import { Etcd3, type IKeyValue, type IOptions, type IWatchResponse, type Watcher } from "etcd3";
import { WatchManager } from "etcd3/lib/watch.js";
import type { Logger } from "pino";
import { logEvent } from "../log/index.js";
import type { Coordination } from "./coordination.js";
import { parseObject, parseOne } from "./objects.js";
import {
  parseAddress,
  parseReflectorEntry,
  type Resource,
  ResourceError,
  type ResourceKind,
} from "./resources.js";
import { resourceKey, type Store } from "./store.js";

/**
 * How the etcd client reaches etcd: TLS (ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE, read)
 * and, where etcd has authentication on, a user (ETCD_USERNAME, ETCD_PASSWORD), as libcalico-go.
 */
export interface EtcdAccess {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  username?: string;
  password?: string;
}

const V3 = "/calico/resources/v3/projectcalico.org/";
/** the longest wait between attempts to reach etcd again (its channel, a broken watch stream) */
const RECONNECT_MAX_MS = 2000;

/** No etcd endpoint found through ETCD_DISCOVERY_SRV: a setting to fix, not a bug. */
export class DiscoveryError extends Error {
  override name = "DiscoveryError";
}

/**
 * ETCD_DISCOVERY_SRV, as libcalico-go finds etcd (etcd's srv.GetClient("etcd-client", domain)):
 * https endpoints from the SRV records of _etcd-client-ssl._tcp.DOMAIN, http ones from
 * _etcd-client._tcp.DOMAIN, by priority (RFC 2782); an error when neither name resolves or they
 * name no endpoint.
 */
export async function discoverEtcd(domain: string): Promise<string[]> {
  const lookup = async (name: string, scheme: string) =>
    (await resolveSrv(`${name}._tcp.${domain.replace(/\.$/, "")}`))
      .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
      .map((r) => `${scheme}://${r.name.includes(":") ? `[${r.name}]` : r.name}:${r.port}`);
  const found = await Promise.allSettled([
    lookup("_etcd-client-ssl", "https"),
    lookup("_etcd-client", "http"),
  ]);
  const endpoints = found.flatMap((f) => (f.status === "fulfilled" ? f.value : []));
  if (endpoints.length === 0) {
    const why = found
      .map((f) => (f.status === "rejected" ? (f.reason as Error).message : "no records"))
      .join("; ");
    throw new DiscoveryError(
      `ETCD_DISCOVERY_SRV ${domain}: no etcd endpoints found through SRV discovery (${why})`,
    );
  }
  return endpoints;
}

/** What we read from etcd, and what each prefix holds. */
const PREFIXES: readonly { prefix: string; kind: ResourceKind; family?: 4 | 6 }[] = [
  { prefix: `${V3}nodes/`, kind: "Node" },
  { prefix: `${V3}bgppeers/`, kind: "BGPPeer" },
  { prefix: `${V3}bgpconfigurations/`, kind: "BGPConfiguration" },
  { prefix: `${V3}bgpfilters/`, kind: "BGPFilter" },
  { prefix: `${V3}ippools/`, kind: "IPPool" },
  { prefix: "/calico/bgp/v1/rr_v4/", kind: "ReflectorEntry", family: 4 },
  { prefix: "/calico/bgp/v1/rr_v6/", kind: "ReflectorEntry", family: 6 },
];
const KINDS = [...new Set(PREFIXES.map((p) => p.kind))];

/** The prefix a key is under, with the name it gives (for rr entries, the address in canonical form). */
function identify(key: string): ((typeof PREFIXES)[number] & { name: string }) | undefined {
  const where = PREFIXES.find((p) => key.startsWith(p.prefix));
  if (!where) return undefined;
  const raw = key.slice(where.prefix.length);
  return { ...where, name: where.family ? (parseAddress(raw)?.text ?? raw) : raw };
}

/** Parses one etcd value; the kind and name come from the key. */
function parseKv(key: string, value: string): Resource {
  const id = identify(key);
  if (!id) throw new ResourceError(key, "(key)", "not a key we read");
  let obj: unknown;
  try {
    obj = JSON.parse(value);
  } catch {
    throw new ResourceError(key, "(value)", "not JSON");
  }
  if (id.family) return parseReflectorEntry(obj, key, id.family);
  const r = parseObject(obj, key);
  if (r.kind !== id.kind) throw new ResourceError(key, "kind", `${r.kind} under the ${id.kind} prefix`);
  // The key names the object (libcalico-go keys are <plural>/<name>).
  if (r.name !== id.name)
    throw new ResourceError(key, "metadata.name", `${JSON.stringify(r.name)} differs from the key`);
  return r;
}

/**
 * etcd answers a cancel for a watch it has just canceled itself (its start revision compacted
 * away) with a second canceled response, for an ID etcd3 (1.1.2) no longer holds. etcd3 throws on
 * it inside the gRPC stream's handler, where nothing can catch it: an unhandled rejection, which
 * ends the process. Such a response ends the cancel that asked for it; one that no cancel asked
 * for concerns no watch of ours and is dropped.
 */
interface WatchManagerInternals {
  watchers: Watcher[];
  expectedClosers: Set<Watcher>;
  handleResponse(res: IWatchResponse): void;
}
{
  const manager = WatchManager.prototype as unknown as WatchManagerInternals;
  const handleResponse = manager.handleResponse;
  if (typeof handleResponse !== "function") throw new Error("etcd3's WatchManager has no handleResponse");
  manager.handleResponse = function (this: WatchManagerInternals, res: IWatchResponse): void {
    if (this.watchers.some((w) => w.id === res.watch_id)) {
      handleResponse.call(this, res);
      return;
    }
    for (const w of this.expectedClosers) {
      if (w.id !== res.watch_id) continue;
      this.expectedClosers.delete(w);
      w.emit("end");
      return;
    }
  };
}

/**
 * Closes a client that is no longer used. Closing alone leaves its watch stream open, and with
 * it the gRPC channel's connection (one leaked per relist): gRPC lets calls in progress outlive
 * a closed channel. So the watches are canceled first, which ends the stream; when etcd is away
 * that may not complete, and after a short wait the client is closed anyway.
 */
async function retire(client: Etcd3, watchers: Watcher[]): Promise<void> {
  for (const w of watchers) w.removeAllListeners().on("error", () => {});
  const canceled = Promise.allSettled(watchers.map((w) => w.cancel()));
  await Promise.race([canceled, delay(2000, undefined, { ref: false })]);
  client.close();
}

/** The etcd3 client's options for these endpoints and this access. */
export function etcdOptions(endpoints: string[], tls: EtcdAccess): IOptions {
  const https = endpoints.some((e) => e.startsWith("https:"));
  return {
    hosts: endpoints,
    dialTimeout: 5000,
    // Reconnect soon once etcd answers again. gRPC's channel backs off to 120 s and etcd3's
    // watch stream to 30 s by default: after ten seconds of outage, changes came ten or more
    // seconds after etcd was back.
    grpcOptions: {
      "grpc.initial_reconnect_backoff_ms": 250,
      "grpc.max_reconnect_backoff_ms": RECONNECT_MAX_MS,
    },
    faultHandling: {
      // etcd3 wants the first backoff of the sequence (the factory's next())
      watchBackoff: new ExponentialBackoff({ initialDelay: 250, maxDelay: RECONNECT_MAX_MS }).next(),
    },
    ...(tls.username !== undefined ? { auth: { username: tls.username, password: tls.password ?? "" } } : {}),
    ...(https || tls.ca
      ? {
          credentials: {
            rootCertificate: tls.ca ?? Buffer.from(rootCertificates.join("\n")),
            ...(tls.key ? { privateKey: tls.key } : {}),
            ...(tls.cert ? { certChain: tls.cert } : {}),
          },
        }
      : {}),
  };
}

export class EtcdSource {
  private client: Etcd3;
  private watchers: Watcher[] = [];
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private backoff = 1000;
  private reachable = true;

  /** etcd answers (the last list, watch or retry reached it). */
  get connected(): boolean {
    return this.reachable;
  }
  /** the revision the store reflects */
  revision = 0;
  /** the cluster listed, and its Raft term then: neither changes while the data is the same */
  private cluster: { id: string; term: number } | undefined;

  constructor(
    readonly endpoints: string[],
    tls: EtcdAccess,
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    this.options = etcdOptions(endpoints, tls);
    this.client = new Etcd3(this.options);
  }

  private readonly options: IOptions;

  /**
   * A new client for a new list and watch. New watches never share the old stream (a response
   * for a watch being replaced there makes the etcd3 client throw, "Failed to find watcher"):
   * the old client, its stream and its watches are retired together.
   */
  private renew(): void {
    void retire(this.client, this.watchers);
    this.watchers = [];
    this.client = new Etcd3(this.options);
  }

  /** The assignment's leases and writes on this etcd (a client of their own). */
  async coordination(self: string | undefined, leaseSeconds: number): Promise<Coordination> {
    const { EtcdCoordination } = await import("./etcd-coordination.js");
    return new EtcdCoordination(this.options, self, leaseSeconds, this.log.child({ coordination: "etcdv3" }));
  }

  /** Starts listing in the background; the store says when it is synced. */
  start(): void {
    void this.sync();
  }

  /** Lists everything again and applies the differences (SIGHUP). */
  async reload(): Promise<void> {
    await this.resync("reload");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await retire(this.client, this.watchers);
    this.watchers = [];
  }

  private resyncing: Promise<void> | undefined;

  /** Lists again and watches from there; concurrent requests share one. */
  private resync(reason: string): Promise<void> {
    if (this.resyncing) return this.resyncing;
    logEvent(this.log, "etcdRelist", { reason });
    this.renew();
    this.resyncing = this.sync().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  /** List, then watch; on failure try again with backoff (1 s doubling to 30 s). */
  private async sync(): Promise<void> {
    if (this.stopped) return;
    try {
      const revision = await this.list();
      await this.watch(revision);
      this.backoff = 1000;
      if (!this.reachable) logEvent(this.log, "etcdReachable", { endpoints: this.endpoints });
      this.reachable = true;
    } catch (e) {
      if (this.stopped) return;
      if (this.reachable) {
        logEvent(this.log, "etcdUnreachable", { endpoints: this.endpoints, err: (e as Error).message });
      }
      this.reachable = false;
      this.renew();
      this.retry = setTimeout(() => void this.sync(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 30_000);
    }
  }

  /** Reads every prefix at one revision into the store; returns that revision. */
  private async list(): Promise<number> {
    const first = await this.client
      .getAll()
      .prefix(PREFIXES[0]?.prefix as string)
      .exec();
    const revision = Number(first.header.revision);
    this.cluster = { id: String(first.header.cluster_id), term: Number(first.header.raft_term) };
    const responses = [first];
    for (const p of PREFIXES.slice(1)) {
      responses.push(await this.client.getAll().prefix(p.prefix).revision(revision).exec());
    }
    const resources: Resource[] = [];
    const keep = new Set<string>();
    for (const res of responses) {
      for (const kv of res.kvs) {
        const key = kv.key.toString();
        const r = this.parse(key, kv.value.toString());
        if (r) resources.push(r);
        else keep.add(this.storeKey(key));
      }
    }
    this.store.replace(KINDS, resources, keep);
    this.revision = revision;
    this.store.markSynced();
    logEvent(this.log, "etcdListed", { revision, objects: resources.length });
    return revision;
  }

  protected async watch(revision: number): Promise<void> {
    for (const { prefix } of PREFIXES) {
      const w = await this.client
        .watch()
        .prefix(prefix)
        .startRevision(String(revision + 1))
        .withPreviousKV()
        .create();
      this.watchers.push(w);
      // create() waits for the watch's first response, before the handlers below are on: a watch
      // that began on an etcd replaced meanwhile (stopped, emptied, started again while it was
      // being created) starts at the new cluster's revision, below the one we listed at.
      if (this.replaced({ revision: Number(w.lastRevision()) - 1 })) return;
      w.on("put", (kv) => this.onPut(kv));
      w.on("delete", (kv) => this.onDelete(kv));
      w.on("disconnected", (err) => {
        if (this.reachable) {
          logEvent(this.log, "etcdWatchLost", { err: err.message });
        }
        this.reachable = false;
      });
      w.on("connected", (res: IWatchResponse) => {
        if (!this.watchers.includes(w)) return;
        const { revision, cluster_id, raft_term } = res.header;
        if (this.replaced({ revision: Number(revision), id: String(cluster_id), term: Number(raft_term) }))
          return;
        if (!this.reachable) logEvent(this.log, "etcdWatchResumed", {});
        this.reachable = true;
      });
      // A watch etcd cancels (its start revision was compacted away): list again.
      w.on("error", (err) => {
        if (!this.watchers.includes(w)) return; // a watch of a client already replaced
        this.watchers = this.watchers.filter((x) => x !== w);
        void this.resync(`watch canceled by etcd (compaction or permissions): ${err.message}`);
      });
    }
  }

  /**
   * A watch that begins or resumes on an etcd recreated empty, or restored from an older backup,
   * starts at our next revision, which the new data reaches only later and with other objects: what
   * was deleted would stay and what is new would be missed. A revision lower than ours, another
   * cluster ID or a Raft term that went backwards means the data was replaced: list again.
   * (A recreated etcd that has already written past our revision, with the same cluster ID and
   * a later term, cannot be told apart from the old one by what a watch response carries.)
   */
  private replaced(now: { revision: number; id?: string; term?: number }): boolean {
    const was = { revision: this.revision, ...this.cluster };
    // (the start of a watch tells its revision only, not the cluster's ID or term)
    const same = (now.id === undefined || now.id === was.id) && (now.term ?? Infinity) >= (was.term ?? 0);
    if (now.revision >= was.revision && same) return false;
    logEvent(this.log, "etcdReplaced", { was, now });
    void this.resync("etcd data replaced");
    return true;
  }

  private onPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    this.revision = Math.max(this.revision, Number(kv.mod_revision));
    const r = this.parse(key, kv.value.toString());
    if (r) {
      logEvent(this.log, "objectPut", { key, revision: Number(kv.mod_revision) });
      this.store.put(r);
    }
  }

  private onDelete(kv: IKeyValue): void {
    const key = kv.key.toString();
    const id = identify(key);
    if (!id) return;
    this.revision = Math.max(this.revision, Number(kv.mod_revision));
    this.store.delete(id.kind, id.name);
    logEvent(this.log, "objectDeleted", { key, revision: Number(kv.mod_revision) });
  }

  private parse(key: string, value: string): Resource | undefined {
    const r = parseOne(key, () => parseKv(key, value));
    if (!(r instanceof ResourceError)) return r;
    logEvent(this.log, "invalidObject", { key, err: r.message });
    return undefined;
  }

  private storeKey(key: string): string {
    const id = identify(key);
    return id ? resourceKey(id) : key;
  }
}
