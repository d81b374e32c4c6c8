// The daemon: the datastore feeds the store; once it is synced, the peerings it yields become
// sessions. The BGP side (reflector and listeners) is built from what the datastore says (router
// ID, cluster ID, listen port) and rebuilt only when one of those changes. The command line
// (src/cli) runs it; the control endpoints (src/control) read it.
import type { Logger } from "pino";
import { describeError } from "../bgp/index.js";
import type { Coordination } from "../datastore/coordination.js";
import { computePeerings, FileSource, type Peerings, Store } from "../datastore/index.js";
import { Listener } from "../fsm/index.js";
import { logEvent } from "../log/index.js";
import { Reconciler, Reflector } from "../reflector/index.js";
import { Assigner } from "./assigner.js";
import { Coalescer } from "./coalesce.js";
import type { Config } from "./config.js";
import { levelOfSeverity } from "./log.js";
import { LogLimit } from "./log-limit.js";

/**
 * RFC 4724 §4.1: after a (re)start, routes go out once every peer is back and has sent its
 * End-of-RIB, or after this many seconds; clients with graceful restart keep their routes meanwhile.
 */
const SELECTION_DEFERRAL = 10;

/** A datastore source: fills the store, keeps it current. */
export interface Source {
  start(): void | Promise<void>;
  /** read everything again (SIGHUP) */
  reload?(): Promise<void>;
  stop(): void | Promise<void>;
  /** whether the datastore answers now (what was synced stays in force while it does not) */
  readonly connected: boolean;
  /**
   * The reflector assignment's membership and writes on this datastore; `self`: join as that
   * member (assignment on here), else only watch. None: this datastore has no leases (a file).
   */
  coordination?(self: string | undefined, leaseSeconds: number): Promise<Coordination>;
}

interface Bgp {
  key: string;
  reflector: Reflector;
  reconciler: Reconciler;
  listeners: { address: string; listener: Listener }[];
}

export class Daemon {
  readonly store = new Store();
  private bgp: Bgp | undefined;
  private warnings = new Set<string>();
  peerings: Peerings | undefined;
  /** the BGP port is bound */
  listening = false;
  /** when each peer's session last changed state (ms since the epoch) */
  readonly since = new Map<string, number>();
  /** how often each peer's session left Established */
  readonly flaps = new Map<string, number>();
  /** NOTIFICATIONs counted per peer, direction, code and subcode (keyed by all four) */
  readonly notifications = new Map<
    string,
    { peer: string; direction: "sent" | "received"; code: number; subcode: number; count: number }
  >();
  readonly startedAt = Date.now();

  /** /readyz: the datastore is synced and the BGP port is bound */
  /** Datastore synced, BGP bound, and the selection deferral over: every client has its table. */
  get ready(): boolean {
    return this.store.synced && this.listening && !this.bgp?.reflector.deferringSelection;
  }
  private stopping = false;

  constructor(
    readonly config: Config,
    readonly log: Logger,
    private readonly makeSource: (store: Store) => Promise<Source>,
  ) {}

  private source: Source | undefined;

  /** The datastore answers now. */
  get datastoreConnected(): boolean {
    return this.source?.connected ?? false;
  }
  /** connections from addresses that are not configured peers, closed before OPEN */
  refusedConnections = 0;
  /** at most one line a second about them; routereflector_connections_refused_total counts each */
  private readonly refusedLog = new LogLimit(1000);

  /** the peerings computed again after changes: once per burst, one at a time */
  private readonly updates = new Coalescer(
    () => this.update(),
    100,
    (e) => this.fatal(e),
  );

  /** the reflector assignment, on a datastore with leases */
  assigner: Assigner | undefined;

  async start(): Promise<void> {
    this.store.on("change", () => this.updates.request());
    this.source = await this.makeSource(this.store);
    const a = this.config.assignment;
    const self = a.perNode !== undefined ? this.config.nodeName : undefined;
    const coordination = await this.source.coordination?.(self, a.leaseSeconds);
    if (coordination)
      this.assigner = new Assigner(
        this.store,
        coordination,
        self,
        {
          perNode: a.perNode ?? 0,
          slack: a.slack,
          zoneLabel: a.zoneLabel,
          graceMs: a.graceSeconds * 1000,
          writesPerSecond: a.writesPerSecond,
        },
        this.log.child({ assignment: self ?? "off" }),
        // up for the assignment: Established and given its whole table (after the selection
        // deferral of a reflector just started): a node's old reflector may go only then
        (address) =>
          this.reflector?.peer(address)?.session.state === "Established" &&
          !!this.reflector?.sentTable(address),
      );
    await this.source.start();
    await this.assigner?.start();
  }

  reload(): Promise<void> {
    logEvent(this.log, "reloadRequested", {});
    return this.source?.reload?.() ?? Promise.resolve();
  }

  get reflector(): Reflector | undefined {
    return this.bgp?.reflector;
  }

  get reconciler(): Reconciler | undefined {
    return this.bgp?.reconciler;
  }

  private fatal(e: unknown): void {
    logEvent(this.log, "fatal", { err: (e as Error).message });
    void this.stop("fatal error").finally(() => process.exit(1));
  }

  private async update(): Promise<void> {
    if (!this.store.synced || this.stopping) return;
    const c = this.config;
    // The configuration is the identity: IP, IP6, NODENAME, CLUSTER_ID.
    let p: Peerings;
    try {
      p = computePeerings(this.store.snapshot(), c, this.store.secret);
    } catch (e) {
      // A datastore state that cannot be turned into peerings must not take the routing down.
      logEvent(this.log, "peeringsFailed", { err: (e as Error).message });
      return;
    }
    this.peerings = p;
    const level = (p.logSeverity && levelOfSeverity(p.logSeverity)) ?? c.logLevel;
    if (!c.logLevelSet && this.log.level !== level) {
      logEvent(this.log, "logLevelFromConfig", {
        level,
        ...(p.logSeverity ? { logSeverityScreen: p.logSeverity } : {}),
      });
      this.log.level = level;
    }
    const warnings = new Set(p.warnings);
    for (const w of warnings) if (!this.warnings.has(w)) logEvent(this.log, "peeringWarning", { warning: w });
    this.warnings = warnings;

    const routerId = c.routerId ?? p.routerId ?? c.ip;
    if (!routerId) {
      logEvent(this.log, "noRouterId", p.node ? { node: p.node } : {});
      return;
    }
    const addresses = p.bindAddress
      ? [p.bindAddress]
      : [c.ip ?? p.routerId, c.ip6].filter((a) => a !== undefined);
    const key = JSON.stringify([routerId, p.clusterId, p.localAs, p.listenPort, addresses]);
    if (this.bgp && this.bgp.key !== key) {
      logEvent(this.log, "identityChanged", {});
      await this.stopBgp("reflector configuration changed");
    }
    if (!this.bgp) {
      this.bgp = await this.startBgp(key, routerId, p, addresses as string[]);
    }
    const r = this.bgp.reconciler.apply(p.peers);
    for (const s of r.added)
      logEvent(this.log, "peerAdded", { peer: s.address, name: s.name, type: s.type, from: s.from });
    for (const s of r.changed)
      logEvent(this.log, "peerChanged", { peer: s.address, name: s.name, from: s.from });
    for (const s of r.refiltered)
      logEvent(this.log, "peerRefiltered", {
        peer: s.address,
        name: s.name,
        filters: s.filters?.names ?? [],
      });
    for (const s of r.removed) logEvent(this.log, "peerRemoved", { peer: s.address, name: s.name });
  }

  private async startBgp(key: string, routerId: string, p: Peerings, addresses: string[]): Promise<Bgp> {
    const log = this.log;
    const reflector = new Reflector(
      {
        routerId,
        localAs: p.localAs,
        ...(p.clusterId ? { clusterId: p.clusterId } : {}),
        selectionDeferral: SELECTION_DEFERRAL,
      },
      undefined,
      {
        // Established and leaving it are news; the Connect/Active retry cycle is debug detail.
        stateChange: (peer, from, to, reason) => {
          this.since.set(peer.address, Date.now());
          if (from === "Established") this.flaps.set(peer.address, (this.flaps.get(peer.address) ?? 0) + 1);
          logEvent(
            log,
            "sessionState",
            { peer: peer.address, from, to, ...(reason ? { reason } : {}) },
            from === "Established" || to === "Established" ? "info" : "debug",
          );
        },
        deferralEnded: (timedOut, waitingFor) =>
          timedOut
            ? logEvent(log, "deferralTimedOut", { timedOut, ...(waitingFor.length ? { waitingFor } : {}) })
            : logEvent(log, "deferralOver", { timedOut }),
        // RFC 4271 §9.2: a route that cannot be encoded for a peer is left out for it.
        leftOut: (peers, prefixes) =>
          logEvent(log, "routesLeftOut", { peers, prefixes: prefixes.slice(0, 10), count: prefixes.length }),
        notification: (peer, direction, n) => {
          const key = `${peer.address}|${direction}|${n.code}|${n.subcode}`;
          const counted = this.notifications.get(key);
          if (counted) counted.count++;
          else
            this.notifications.set(key, {
              peer: peer.address,
              direction,
              code: n.code,
              subcode: n.subcode,
              count: 1,
            });
          logEvent(log, direction === "sent" ? "notificationSent" : "notificationReceived", {
            peer: peer.address,
            error: describeError(n.code, n.subcode),
            ...(n.shutdownCommunication ? { message: n.shutdownCommunication } : {}),
          });
        },
      },
    );
    const listeners = addresses.map((address) => ({
      address,
      listener: new Listener(
        (remote) => reflector.peer(remote)?.session,
        (remote) => {
          this.refusedConnections++;
          const unlogged = this.refusedLog.take(Date.now());
          if (unlogged === undefined) return;
          logEvent(log, "connectionRefused", {
            peer: remote,
            ...(unlogged ? { moreSinceLastLine: unlogged } : {}),
          });
        },
      ),
    }));
    for (const l of listeners) {
      try {
        await l.listener.listen(p.listenPort, l.address);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const hint = code === "EACCES" ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)" : "";
        throw new Error(`cannot listen on ${l.address} port ${p.listenPort}: ${code}${hint}`);
      }
    }
    this.listening = true;
    const family = (a: string) => a.includes(":");
    const reconciler = new Reconciler(
      reflector,
      (peer) => listeners.find((l) => family(l.address) === family(peer))?.listener,
      addresses.find((a) => !a.includes(":")),
    );
    logEvent(log, "started", {
      mode: p.mode,
      ...(p.node ? { node: p.node } : {}),
      routerId,
      as: p.localAs,
      clusterId: p.clusterId ?? routerId,
      listen: addresses.map((a) => (a.includes(":") ? `[${a}]:${p.listenPort}` : `${a}:${p.listenPort}`)),
      peers: p.peers.length,
      expecting: p.peers.map((s) => `${s.address} (${s.type}, AS ${s.peerAs})`),
    });
    return { key, reflector, reconciler, listeners };
  }

  private async stopBgp(message: string, retain = false): Promise<void> {
    const bgp = this.bgp;
    if (!bgp) return;
    this.bgp = undefined;
    bgp.reconciler.stopAll(message, retain);
    this.listening = false;
    await Promise.all(bgp.listeners.map((l) => l.listener.close()));
  }

  /**
   * Ends every session, then stops watching. `retain`: a planned restart (SIGTERM), after which
   * graceful-restart clients keep our routes until we are back; otherwise (SIGUSR2, start-up
   * failure) they drop them, told why with `message`.
   */
  async stop(message: string, retain = false): Promise<void> {
    this.stopping = true;
    this.updates.cancel();
    await this.assigner?.stop();
    await this.source?.stop();
    await this.stopBgp(message, retain);
  }
}

/** The datastore source; each is loaded only when chosen (the Kubernetes client alone is 66 MiB). */
export async function makeSource(config: Config, store: Store, log: Logger): Promise<Source> {
  switch (config.datastoreType) {
    case "file":
      return new FileSource(config.datastoreFile, store, log.child({ datastore: "file" }));
    case "etcdv3": {
      const { discoverEtcd, EtcdSource } = await import("../datastore/etcd.js");
      const endpoints = config.etcdDiscoverySrv
        ? await discoverEtcd(config.etcdDiscoverySrv)
        : config.etcdEndpoints;
      return new EtcdSource(endpoints, config.etcdTls, store, log.child({ datastore: "etcdv3" }));
    }
    case "kubernetes": {
      const { KubernetesSource } = await import("../datastore/kubernetes.js");
      return new KubernetesSource(
        {
          namespace: config.namespace,
          ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
          ...(config.kubernetes ? { overrides: config.kubernetes } : {}),
          ...(config.apiGroup ? { apiGroup: config.apiGroup } : {}),
        },
        store,
        log.child({ datastore: "kubernetes" }),
      );
    }
  }
}
