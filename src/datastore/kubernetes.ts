// The Kubernetes datastore (shared/calico-datamodel.md §3): v1 Nodes (Calico's annotations and
// labels), the BGPPeer and BGPConfiguration custom resources (crd.projectcalico.org/v1, or
// projectcalico.org/v3 where the cluster serves only that), and the Secrets in NAMESPACE that hold
// BGP passwords.
//
// Each collection is listed, then watched from the list's resourceVersion with bookmarks. The
// client library's informer has neither bookmarks nor a "synced" signal, so the loop is ours
// (list-watch.ts); the HTTP watch stream is the library's. A watch that ends is resumed from the
// last resourceVersion; 410 Gone means that version is too old: list again and apply the difference.
import {
  ApisApi,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { logEvent } from "../log/index.js";
import type { Coordination } from "./coordination.js";
import { type Collection, FORBIDDEN, type ListResult, ListWatch, NOT_FOUND } from "./list-watch.js";
import { parseOne, parseSecret } from "./objects.js";
import {
  parseKubernetesNode,
  parseResource,
  type Resource,
  ResourceError,
  type ResourceKind,
} from "./resources.js";
import type { Store } from "./store.js";

/**
 * What calico/node's K8S_* variables set over the kubeconfig (libcalico-go apiconfig: the
 * API server, its CA, a client certificate, a bearer token, no TLS verification).
 */
export interface KubernetesOverrides {
  server?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

export interface KubernetesOptions {
  kubeconfig?: string;
  overrides?: KubernetesOverrides;
  namespace: string;
  /** CALICO_API_GROUP: "crd.projectcalico.org/v1" or "projectcalico.org/v3"; discovered when unset */
  apiGroup?: string;
}

export class KubernetesSource {
  private readonly kc = new KubeConfig();
  private loops: ListWatch[] = [];
  /**
   * A list and watch per Secret the BGPPeers and BGPConfigurations name, by name: RBAC can then
   * grant exactly those (a Role's resourceNames) instead of every Secret of the namespace.
   */
  private readonly secretLoops = new Map<string, ListWatch>();
  /** the Secret each BGPPeer and BGPConfiguration names, by its key */
  private readonly secretRefs = new Map<string, string>();
  private core: CoreV1Api | undefined;
  private watcher: Watch | undefined;

  constructor(
    private readonly options: KubernetesOptions,
    private readonly store: Store,
    private readonly log: Logger,
  ) {
    const o = options.overrides;
    try {
      if (options.kubeconfig) this.kc.loadFromFile(options.kubeconfig);
      else if (!o?.server || process.env.KUBERNETES_SERVICE_HOST) this.kc.loadFromCluster();
    } catch (e) {
      throw new Error(`KUBECONFIG ${options.kubeconfig}: ${(e as Error).message}`);
    }
    if (o) this.override(o);
    if (!this.kc.getCurrentCluster()?.server) {
      throw new Error(`KUBECONFIG ${options.kubeconfig ?? "(in-cluster)"}: no current cluster with a server`);
    }
  }

  /** The K8S_* variables over what the kubeconfig (or the pod's service account) says. */
  private override(o: KubernetesOverrides): void {
    const cluster = this.kc.getCurrentCluster();
    const user = this.kc.getCurrentUser();
    const server = o.server ?? cluster?.server;
    if (!server) return;
    this.kc.loadFromOptions({
      clusters: [
        {
          name: "calico",
          server,
          skipTLSVerify: o.insecureSkipTlsVerify ?? cluster?.skipTLSVerify ?? false,
          ...(o.caFile
            ? { caFile: o.caFile }
            : cluster?.caFile
              ? { caFile: cluster.caFile }
              : cluster?.caData
                ? { caData: cluster.caData }
                : {}),
        },
      ],
      users: [
        {
          name: "calico",
          ...(o.token ? { token: o.token } : user?.token ? { token: user.token } : {}),
          ...(o.certFile && o.keyFile
            ? { certFile: o.certFile, keyFile: o.keyFile }
            : {
                ...(user?.certFile
                  ? { certFile: user.certFile }
                  : user?.certData
                    ? { certData: user.certData }
                    : {}),
                ...(user?.keyFile
                  ? { keyFile: user.keyFile }
                  : user?.keyData
                    ? { keyData: user.keyData }
                    : {}),
              }),
          ...(!o.token && user?.authProvider ? { authProvider: user.authProvider } : {}),
        },
      ],
      contexts: [{ name: "calico", cluster: "calico", user: "calico" }],
      currentContext: "calico",
    });
  }

  async start(): Promise<void> {
    const [group, version] = (await this.apiGroup()).split("/") as [string, string];
    logEvent(this.log, "kubernetesDatastore", {
      apiGroup: `${group}/${version}`,
      namespace: this.options.namespace,
    });
    const core = this.kc.makeApiClient(CoreV1Api);
    this.core = core;
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    const resource = (plural: string, kind: ResourceKind): Collection => ({
      name: plural,
      path: `/apis/${group}/${version}/${plural}`,
      list: () => custom.listClusterCustomObject({ group, version, plural }) as Promise<ListResult>,
      apply: (obj, name) =>
        this.apply(kind, name, `${plural}/${name}`, obj, (o, key) => parseResource({ kind, ...o }, key)),
    });
    const collections: Collection[] = [
      {
        name: "nodes",
        path: "/api/v1/nodes",
        list: () => core.listNode() as Promise<ListResult>,
        apply: (obj, name) => this.apply("Node", name, `nodes/${name}`, obj, parseKubernetesNode),
      },
      resource("bgppeers", "BGPPeer"),
      resource("bgpconfigurations", "BGPConfiguration"),
      { ...resource("bgpfilters", "BGPFilter"), absentWhen: [NOT_FOUND] },
      resource("ippools", "IPPool"),
    ];
    this.watcher = new Watch(this.kc);
    this.loops = collections.map((c) => this.loop(c));
    for (const l of this.loops) l.start();
  }

  private loop(c: Collection): ListWatch {
    return new ListWatch(c, this.watcher as Watch, this.log.child({ collection: c.name }), () =>
      this.listed(),
    );
  }

  private allLoops(): ListWatch[] {
    return [...this.loops, ...this.secretLoops.values()];
  }

  /** Synced once every collection, and every Secret named so far, answered its first list. */
  private listed(): void {
    if (this.allLoops().every((l) => l.listed)) this.store.markSynced();
  }

  /**
   * Follows the Secrets named now: a list and watch of each new one (in NAMESPACE, as
   * calico/node), none of those no longer named. Without a Role for one (403) there is no
   * password: the peering's warning says so.
   */
  private followSecrets(): void {
    const core = this.core;
    if (!core) return;
    const named = new Set(this.secretRefs.values());
    const ns = this.options.namespace;
    for (const name of named) {
      if (this.secretLoops.has(name)) continue;
      const fieldSelector = `metadata.name=${name}`;
      const l = this.loop({
        name: `secrets/${name}`,
        path: `/api/v1/namespaces/${ns}/secrets`,
        fieldSelector,
        list: () => core.listNamespacedSecret({ namespace: ns, fieldSelector }) as Promise<ListResult>,
        apply: (obj, n) => this.applySecret(n, obj),
        absentWhen: [FORBIDDEN],
      });
      this.secretLoops.set(name, l);
      l.start();
    }
    for (const [name, l] of this.secretLoops) {
      if (named.has(name)) continue;
      l.stop();
      this.secretLoops.delete(name);
      this.store.deleteSecret(name);
    }
  }

  stop(): void {
    for (const l of this.allLoops()) l.stop();
  }

  /** Every collection it needs answered its last list or watch. */
  get connected(): boolean {
    return this.loops.length > 0 && this.allLoops().every((l) => l.reachable);
  }

  private group: Promise<string> | undefined;

  /** CALICO_API_GROUP, else crd.projectcalico.org/v1 when served, else projectcalico.org/v3 (discovery.go). */
  apiGroup(): Promise<string> {
    this.group ??= this.discover();
    return this.group;
  }

  /** The assignment's Leases and writes on this API server, in NAMESPACE. */
  async coordination(self: string | undefined, leaseSeconds: number): Promise<Coordination> {
    const { KubernetesCoordination } = await import("./kubernetes-coordination.js");
    return new KubernetesCoordination(
      this.kc,
      this.options.namespace,
      () => this.apiGroup(),
      self,
      leaseSeconds,
      this.log.child({ coordination: "kubernetes" }),
    );
  }

  private async discover(): Promise<string> {
    if (this.options.apiGroup) return this.options.apiGroup;
    try {
      const groups = await this.kc.makeApiClient(ApisApi).getAPIVersions();
      const names = new Set(groups.groups.map((g) => g.name));
      if (!names.has("crd.projectcalico.org") && names.has("projectcalico.org"))
        return "projectcalico.org/v3";
    } catch (e) {
      logEvent(this.log, "discoveryFailed", { err: (e as Error).message });
    }
    return "crd.projectcalico.org/v1";
  }

  private apply(
    kind: ResourceKind,
    name: string,
    key: string,
    obj: KubernetesObject | undefined,
    parse: (obj: object, key: string) => Resource,
  ): void {
    if (!obj) {
      this.store.delete(kind, name);
      this.namesSecret(key, undefined);
      return;
    }
    const r = parseOne(key, () => parse(obj, key));
    // an invalid object is skipped; its last good version, if any, stays
    if (r instanceof ResourceError) {
      logEvent(this.log, "invalidObject", { key, err: r.message });
      return;
    }
    this.store.put(r);
    if (r.kind === "BGPPeer") this.namesSecret(key, r.password?.name);
    else if (r.kind === "BGPConfiguration") this.namesSecret(key, r.nodeMeshPassword?.name);
  }

  /** The Secret a BGPPeer or BGPConfiguration names now (undefined: none, or it is gone). */
  private namesSecret(key: string, secret: string | undefined): void {
    if (this.secretRefs.get(key) === secret) return;
    if (secret === undefined) this.secretRefs.delete(key);
    else this.secretRefs.set(key, secret);
    this.followSecrets();
  }

  private applySecret(name: string, obj: KubernetesObject | undefined): void {
    if (!obj) {
      this.store.deleteSecret(name);
      return;
    }
    const key = `secrets/${name}`;
    const s = parseOne(key, () => parseSecret(obj as Record<string, unknown>, key));
    if (s instanceof ResourceError) logEvent(this.log, "invalidObject", { key, err: s.message });
    else this.store.putSecret(s.name, s.data);
  }
}
