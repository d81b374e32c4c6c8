// The assignment's coordination on Kubernetes (coordination.ts): each member renews a
// coordination.k8s.io/v1 Lease of its own in NAMESPACE (routereflector-member-<node>, holder its
// Node's name, its status in an annotation), and a member is live while its renewTime plus its
// leaseDurationSeconds is in the future, as for kubelet's node leases. The writer holds the Lease
// routereflector-assignment-writer, taken and renewed as client-go's leader election does: taken
// when absent or expired, renewed before it expires, every write conditional on the
// resourceVersion read. Node labels are merge patches that name only our labels and carry the
// resourceVersion they were computed from; BGPPeers are replaced or deleted on theirs.
import { EventEmitter } from "node:events";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { logEvent } from "../log/index.js";
import { type AssignmentWrite, labelText, type MemberStatus } from "./assignment.js";
import {
  type Coordination,
  MEMBER_LEASE_PREFIX,
  sameLabels,
  WRITER_LEASE,
  withLabels,
} from "./coordination.js";
import { type ListResult, ListWatch } from "./list-watch.js";

/** the annotation on a member's Lease that carries its status */
const STATUS_ANNOTATION = "routereflector.projectcalico.org/status";
const CONFLICT = 409;
const NOT_FOUND = 404;

type Result = "done" | "conflict" | "gone";

const codeOf = (e: unknown): number | undefined => (e instanceof ApiException ? e.code : undefined);

/** A Lease's holder is live: renewed less than its duration ago. */
function live(lease: V1Lease, now: number): boolean {
  const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
  return renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000 > now;
}

export class KubernetesCoordination extends EventEmitter<{ change: [] }> implements Coordination {
  private readonly leasesApi: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly leases = new Map<string, V1Lease>();
  private current = new Map<string, MemberStatus | undefined>();
  private loop: ListWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private status: MemberStatus | undefined;
  /** when we last renewed the writer's Lease */
  private heldAt = 0;
  private stopped = false;
  synced = false;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly apiGroup: () => Promise<string>,
    private readonly self: string | undefined,
    private readonly ttl: number,
    private readonly log: Logger,
  ) {
    super();
    this.leasesApi = kc.makeApiClient(CoordinationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.watch = new Watch(kc);
  }

  private readonly watch: Watch;

  get members(): ReadonlyMap<string, MemberStatus | undefined> {
    return this.current;
  }

  get writer(): boolean {
    return this.self !== undefined && Date.now() - this.heldAt < this.ttl * 1000;
  }

  private get memberLease(): string {
    return `${MEMBER_LEASE_PREFIX}${labelText(this.self as string)}`;
  }

  async start(): Promise<void> {
    const ns = this.namespace;
    this.loop = new ListWatch(
      {
        name: "leases",
        path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
        list: () => this.leasesApi.listNamespacedLease({ namespace: ns }) as Promise<ListResult>,
        apply: (obj, name) => {
          if (!name.startsWith(MEMBER_LEASE_PREFIX)) return;
          if (obj) this.leases.set(name, obj as V1Lease);
          else this.leases.delete(name);
          this.recompute();
        },
      },
      this.watch,
      this.log.child({ collection: "leases" }),
      () => {
        this.synced = true;
        this.recompute(true);
      },
    );
    this.loop.start();
    // renew our Leases, and see leases expire, at a third of their duration
    const tick = () => {
      if (this.stopped) return;
      void this.renew().finally(() => {
        this.recompute();
        if (!this.stopped) this.timer = setTimeout(tick, (this.ttl * 1000) / 3);
      });
    };
    tick();
  }

  /** The live members from the Leases; a change (or the first sync) is told. */
  private recompute(force = false): void {
    const now = Date.now();
    const next = new Map<string, MemberStatus | undefined>();
    for (const lease of this.leases.values()) {
      const holder = lease.spec?.holderIdentity;
      if (!holder || !live(lease, now)) continue;
      let status: MemberStatus | undefined;
      try {
        const text = lease.metadata?.annotations?.[STATUS_ANNOTATION];
        status = text ? (JSON.parse(text) as MemberStatus) : undefined;
      } catch {
        status = undefined; // a status we cannot read says nothing of its sessions
      }
      next.set(holder, status);
    }
    const changed =
      next.size !== this.current.size ||
      [...next].some(
        ([k, v]) => !this.current.has(k) || JSON.stringify(this.current.get(k)) !== JSON.stringify(v),
      );
    this.current = next;
    if (changed || force) this.emit("change");
  }

  async report(status: MemberStatus): Promise<void> {
    this.status = status;
    await this.renewMember();
  }

  private async renew(): Promise<void> {
    if (this.self === undefined) return;
    await this.renewMember().catch((e: unknown) =>
      logEvent(this.log, "assignmentLeaseFailed", { err: (e as Error).message }),
    );
    const was = this.writer;
    await this.stand().catch(() => {});
    if (was !== this.writer) {
      logEvent(this.log, "assignmentWriter", { elected: this.writer });
      this.emit("change");
    }
  }

  /** Our member Lease, renewed now with our status (made when it is not there). */
  private async renewMember(): Promise<void> {
    if (this.self === undefined || this.stopped) return;
    const name = this.memberLease;
    const now = new Date();
    const lease = await this.readLease(name);
    await this.putLease(
      name,
      lease,
      {
        holderIdentity: this.self,
        leaseDurationSeconds: this.ttl,
        renewTime: now,
        ...(lease ? {} : { acquireTime: now }),
      },
      this.status ? { [STATUS_ANNOTATION]: JSON.stringify(this.status) } : {},
    );
  }

  /** client-go's tryAcquireOrRenew: take the writer's Lease when absent or expired, renew it when ours. */
  private async stand(): Promise<void> {
    const now = new Date();
    const lease = await this.readLease(WRITER_LEASE);
    const holder = lease?.spec?.holderIdentity;
    const ours = lease !== undefined && holder === this.self;
    if (lease && !ours && holder && live(lease, now.getTime())) {
      this.heldAt = 0;
      return;
    }
    await this.putLease(WRITER_LEASE, lease, {
      holderIdentity: this.self,
      leaseDurationSeconds: this.ttl,
      renewTime: now,
      // taken (not renewed): a new holder since now
      ...(ours
        ? {}
        : { acquireTime: now, leaseTransitions: lease ? (lease.spec?.leaseTransitions ?? 0) + 1 : 0 }),
    });
    this.heldAt = now.getTime();
  }

  /** Makes the Lease, or replaces the one read (on its resourceVersion) with this spec and annotations over its own. */
  private async putLease(
    name: string,
    lease: V1Lease | undefined,
    spec: NonNullable<V1Lease["spec"]>,
    annotations: Record<string, string> = {},
  ): Promise<void> {
    if (!lease) {
      await this.leasesApi.createNamespacedLease({
        namespace: this.namespace,
        body: { metadata: { name, annotations }, spec },
      });
      return;
    }
    await this.leasesApi.replaceNamespacedLease({
      name,
      namespace: this.namespace,
      body: {
        ...lease,
        metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, ...annotations } },
        spec: { ...lease.spec, ...spec },
      },
    });
  }

  private async readLease(name: string): Promise<V1Lease | undefined> {
    try {
      return await this.leasesApi.readNamespacedLease({ name, namespace: this.namespace });
    } catch (e) {
      if (codeOf(e) === NOT_FOUND) return undefined;
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.loop?.stop();
    if (this.self === undefined) return;
    // Leave: our member Lease goes, and the writer's is released (client-go's ReleaseOnCancel).
    const writer = this.writer;
    this.heldAt = 0;
    await Promise.allSettled([
      this.leasesApi.deleteNamespacedLease({ name: this.memberLease, namespace: this.namespace }),
      writer ? this.release() : undefined,
    ]);
  }

  private async release(): Promise<void> {
    const l = await this.readLease(WRITER_LEASE);
    if (l?.spec?.holderIdentity === this.self)
      await this.putLease(WRITER_LEASE, l, { holderIdentity: "", leaseDurationSeconds: 1 });
  }

  async write(w: AssignmentWrite): Promise<Result> {
    try {
      return await this.writeOnce(w);
    } catch (e) {
      if (codeOf(e) === CONFLICT) return "conflict";
      if (codeOf(e) === NOT_FOUND) return w.kind === "deletePeer" ? "done" : "gone";
      throw e;
    }
  }

  private async writeOnce(w: AssignmentWrite): Promise<Result> {
    if (w.kind === "labels") {
      const node = await this.core.readNode({ name: w.node });
      const labels = node.metadata?.labels ?? {};
      const next = withLabels(labels, w);
      if (sameLabels(labels, next)) return "done";
      // a merge patch names only our labels (null removes one), on the version we read
      const patch = {
        metadata: {
          resourceVersion: node.metadata?.resourceVersion,
          labels: { ...w.set, ...Object.fromEntries(w.remove.map((k) => [k, null])) },
        },
      };
      await this.core.patchNode(
        { name: w.node, body: patch },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return "done";
    }
    const [group, version] = (await this.apiGroup()).split("/") as [string, string];
    const where = { group, version, plural: "bgppeers" };
    const name = w.kind === "peer" ? w.peer.name : w.name;
    let existing: (KubernetesObject & { spec?: Record<string, unknown> }) | undefined;
    try {
      existing = (await this.custom.getClusterCustomObject({ ...where, name })) as typeof existing;
    } catch (e) {
      if (codeOf(e) !== NOT_FOUND) throw e;
    }
    if (w.kind === "deletePeer") {
      if (!existing) return "done";
      await this.custom.deleteClusterCustomObject({
        ...where,
        name,
        body: { preconditions: { resourceVersion: existing.metadata?.resourceVersion as string } },
      });
      return "done";
    }
    const spec = existing?.spec ?? {};
    if (spec.nodeSelector === w.peer.nodeSelector && spec.peerSelector === w.peer.peerSelector) return "done";
    const body = {
      apiVersion: `${group}/${version}`,
      kind: "BGPPeer",
      ...existing,
      metadata: { ...existing?.metadata, name },
      spec: { ...spec, nodeSelector: w.peer.nodeSelector, peerSelector: w.peer.peerSelector },
    };
    if (existing) await this.custom.replaceClusterCustomObject({ ...where, name, body });
    else await this.custom.createClusterCustomObject({ ...where, body });
    return "done";
  }
}
