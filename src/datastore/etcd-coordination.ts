// The assignment's coordination on etcd v3 (coordination.ts): each member's record under
// /calico/routereflector/v1/assignment/members/, attached to an etcd lease that etcd3 keeps
// alive, so that etcd deletes it when the member is gone for the lease's TTL; the writer is
// elected with etcd3's election (a campaign key on a lease of its own, lowest create revision
// wins). Writes are transactions on the key's mod revision.
import { EventEmitter } from "node:events";
import { type Campaign, Etcd3, type IKeyValue, type IOptions, type Lease, type Watcher } from "etcd3";
import type { Logger } from "pino";
import { logEvent } from "../log/index.js";
import type { AssignmentWrite, MemberStatus } from "./assignment.js";
import { type Coordination, sameLabels, withLabels } from "./coordination.js";

const ROOT = "/calico/routereflector/v1/";
const MEMBERS = `${ROOT}assignment/members/`;
const V3 = "/calico/resources/v3/projectcalico.org/";
/** how soon a lost lease, campaign or watch is tried again */
const RETRY_MS = 1000;

type Result = "done" | "conflict" | "gone";

export class EtcdCoordination extends EventEmitter<{ change: [] }> implements Coordination {
  private client!: Etcd3;
  private readonly live = new Map<string, MemberStatus | undefined>();
  private lease: Lease | undefined;
  private campaign: Campaign | undefined;
  private watcher: Watcher | undefined;
  private status: MemberStatus | undefined;
  private stopped = false;
  private retries = new Set<NodeJS.Timeout>();
  writer = false;
  synced = false;

  constructor(
    private readonly options: IOptions,
    /** our Node's name; none: we only watch (an instance with assignment off, cleaning up) */
    private readonly self: string | undefined,
    /** seconds a member stays in after its last keepalive */
    private readonly ttl: number,
    private readonly log: Logger,
  ) {
    super();
  }

  get members(): ReadonlyMap<string, MemberStatus | undefined> {
    return this.live;
  }

  /** Connects (a client of its own: made here, so that one never started holds nothing open). */
  async start(): Promise<void> {
    this.client = new Etcd3(this.options);
    void this.watchMembers();
    if (this.self === undefined) return;
    void this.join();
    this.stand();
  }

  async report(status: MemberStatus): Promise<void> {
    this.status = status;
    await this.lease?.put(MEMBERS + this.self).value(JSON.stringify(status));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries) clearTimeout(t);
    await Promise.allSettled([this.campaign?.resign(), this.lease?.revoke(), this.watcher?.cancel()]);
    this.client.close();
  }

  private later(what: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.retries.delete(t);
      what();
    }, RETRY_MS);
    this.retries.add(t);
  }

  /** Our record on a lease of ours; a lost lease (etcd away longer than the TTL) is made again. */
  private async join(): Promise<void> {
    const lease = this.client.lease(this.ttl);
    this.lease = lease;
    lease.on("lost", (e) => {
      logEvent(this.log, "assignmentLeaseLost", { err: e.message });
      this.later(() => void this.join());
    });
    try {
      await lease.put(MEMBERS + this.self).value(JSON.stringify(this.status ?? null));
    } catch (e) {
      if (this.stopped) return;
      logEvent(this.log, "assignmentLeaseFailed", { err: (e as Error).message });
      lease.release();
      this.later(() => void this.join());
    }
  }

  /** Stands for writer; elected, we are until our campaign's lease is lost. */
  private stand(): void {
    if (this.stopped) return;
    const campaign = this.client
      .namespace(ROOT)
      .election("assignment-writer", this.ttl)
      .campaign(this.self as string);
    this.campaign = campaign;
    campaign.on("elected", () => {
      // etcd3 says elected once its wait ends, even for a campaign given up meanwhile (its lease
      // lost): only the one we stand with now counts, or two instances would both write
      if (campaign !== this.campaign || this.stopped) return;
      this.writer = true;
      logEvent(this.log, "assignmentWriter", { elected: true });
      this.emit("change");
    });
    campaign.on("error", (e) => {
      if (campaign !== this.campaign) return;
      // etcd3's campaign goes on waiting (a watch on the candidate before it) after its lease is
      // lost: resigned, it stops, and the new campaign is the only one
      this.campaign = undefined;
      void campaign.resign().catch(() => undefined);
      if (this.stopped) return;
      if (this.writer) logEvent(this.log, "assignmentWriter", { elected: false, err: e.message });
      this.writer = false;
      this.emit("change");
      this.later(() => this.stand());
    });
  }

  /** The members: listed, then watched from the next revision; listed again when the watch fails. */
  private async watchMembers(): Promise<void> {
    try {
      const res = await this.client.getAll().prefix(MEMBERS).exec();
      this.live.clear();
      for (const kv of res.kvs) this.put(kv);
      this.synced = true;
      this.emit("change");
      const watcher = await this.client
        .watch()
        .prefix(MEMBERS)
        .startRevision(String(Number(res.header.revision) + 1))
        .create();
      this.watcher = watcher;
      watcher.on("put", (kv) => {
        this.put(kv);
        this.emit("change");
      });
      watcher.on("delete", (kv) => {
        this.live.delete(kv.key.toString().slice(MEMBERS.length));
        this.emit("change");
      });
      watcher.on("error", () => {
        void watcher.cancel().catch(() => {});
        this.later(() => void this.watchMembers());
      });
    } catch {
      this.later(() => void this.watchMembers());
    }
  }

  private put(kv: IKeyValue): void {
    const name = kv.key.toString().slice(MEMBERS.length);
    let status: MemberStatus | undefined;
    try {
      status = (JSON.parse(kv.value.toString()) as MemberStatus | null) ?? undefined;
    } catch {
      status = undefined; // a record we cannot read says nothing of its sessions
    }
    this.live.set(name, status);
  }

  async write(w: AssignmentWrite): Promise<Result> {
    const key = `${V3}${w.kind === "labels" ? "nodes" : "bgppeers"}/${w.kind === "labels" ? w.node : w.kind === "peer" ? w.peer.name : w.name}`;
    const res = await this.client.get(key).exec();
    const kv = res.kvs[0];
    if (w.kind === "deletePeer") {
      if (!kv) return "done";
      const txn = await this.client
        .if(key, "Mod", "==", kv.mod_revision)
        .then(this.client.delete().key(key))
        .commit();
      return txn.succeeded ? "done" : "conflict";
    }
    let object: { metadata?: { labels?: Record<string, string> }; spec?: Record<string, unknown> } & Record<
      string,
      unknown
    >;
    if (w.kind === "labels") {
      if (!kv) return "gone";
      object = JSON.parse(kv.value.toString());
      const labels = object.metadata?.labels ?? {};
      const next = withLabels(labels, w);
      if (sameLabels(labels, next)) return "done";
      object.metadata = { ...object.metadata, labels: next };
    } else {
      object = kv
        ? JSON.parse(kv.value.toString())
        : { kind: "BGPPeer", apiVersion: "projectcalico.org/v3", metadata: { name: w.peer.name } };
      const spec = object.spec ?? {};
      if (spec.nodeSelector === w.peer.nodeSelector && spec.peerSelector === w.peer.peerSelector)
        return "done";
      object.spec = { ...spec, nodeSelector: w.peer.nodeSelector, peerSelector: w.peer.peerSelector };
    }
    const value = JSON.stringify(object);
    const txn = await (kv
      ? this.client.if(key, "Mod", "==", kv.mod_revision)
      : this.client.if(key, "Create", "==", 0)
    )
      .then(this.client.put(key).value(value))
      .commit();
    return txn.succeeded ? "done" : "conflict";
  }
}
