// The route reflector: peers in, Loc-RIB, update groups out. Changes are coalesced and flushed
// once per turn of the event loop.
import { AFI, encodeMessage, type Family } from "../bgp/index.js";
import { type Connector, type Negotiated, tcpConnector } from "../fsm/index.js";
import { AttrTable, addressKey, type Dest, LocRib, type PeerRef, type RibChange } from "../rib/index.js";
import { Group, type Member } from "./groups.js";
import { Peer, type PeerEvents, type PeerOptions } from "./peer.js";
import { isLooped, type Role, type Self } from "./rules.js";

export interface ReflectorConfig {
  routerId: string;
  localAs: number;
  /** RFC 4456 §7: the cluster ID (the router ID when not set) */
  clusterId?: string;
  /** reflect between clients (off when clients are fully meshed among themselves) */
  clientToClient?: boolean;
  /** octets queued to a peer above which it counts as slow and is caught up later (16 MiB) */
  highWater?: number;
  /** changes are collected this long before they go out, so a burst is one UPDATE per group */
  flushDelayMs?: number;
  /**
   * RFC 4724 §4.1 selection deferral, in seconds (0: none): after a start, send nothing until
   * every configured peer is up and each graceful-restart peer has sent End-of-RIB, or this long.
   * A reflector that restarts then gives its clients a whole table, and their stale routes stay.
   */
  selectionDeferral?: number;
}

/**
 * A burst of changes (a thousand nodes announcing at once) goes out in a few flushes instead of
 * one per change: each flush writes to every member, so this divides the writes.
 */
const FLUSH_DELAY_MS = 10;
/** how long the selection deferral waits for the End-of-RIB of a peer that is restarting too */
const RESTARTING_PEER_WAIT_MS = 3000;
const MAX_FLUSH_DELAY_MS = 1000;

/** What the reflector reports for logs and metrics. */
export interface ReflectorObserver extends Pick<PeerEvents, "stateChange" | "notification"> {
  /** routes newly left out for these peers: too large for one UPDATE to them (RFC 4271 §9.2) */
  leftOut?(peers: string[], prefixes: string[]): void;
  /** the selection deferral after our start is over: every peer done, or its time ran out */
  deferralEnded?(timedOut: boolean, waitingFor: string[]): void;
}

export interface PeerSettings extends Omit<PeerOptions, "localAs" | "routerId"> {
  /** our AS towards this peer (default: the reflector's) */
  localAs?: number;
  /** for iBGP peers: a route-reflector client (the default) or not */
  client?: boolean;
  /** a per-peer cluster ID (RFC 4456 §7) */
  clusterId?: string;
  /** advertise this address as NEXT_HOP to the peer */
  nextHopSelf?: string;
  /** RFC 4271 §9.1.2: how many times our AS may be in the AS_PATH of its routes (default 0) */
  allowLocalAs?: number;
  /** with ADD-PATH send: at most this many paths per prefix (default: all) */
  addPathMax?: number;
}

interface Neighbour {
  peer: Peer;
  /** End-of-RIB counts when the session came up: End-of-RIB arrived when they grow */
  eorAtUp: Record<Family, number> | undefined;
  settings: PeerSettings;
  ref: PeerRef;
  /** who we are to it: our AS and cluster ID towards it (loop detection, outbound attributes) */
  self: Self;
  member: Member | undefined;
  /** a TCP connection with it came up since we started: a speaker is there, even if it refuses us now */
  answered: boolean;
  /** when its session last came up (ms) */
  upAt: number;
}

export class Reflector {
  readonly attrTable = new AttrTable();
  readonly rib = new LocRib();
  private readonly neighbours = new Map<string, Neighbour>();
  private readonly groups = new Map<string, Group>();
  private flushing = false;
  private readonly clusterId: string;

  constructor(
    readonly config: ReflectorConfig,
    private readonly connector: Connector = tcpConnector,
    /** session transitions and NOTIFICATIONs of every peer, for logs and metrics */
    private readonly observer: ReflectorObserver = {},
  ) {
    this.clusterId = config.clusterId ?? config.routerId;
    if (config.selectionDeferral) {
      this.deferring = true;
      this.deferTimer = setTimeout(() => this.endDeferral(true), config.selectionDeferral * 1000);
    }
  }

  private deferring = false;
  private deferTimer: NodeJS.Timeout | undefined;

  /** In the selection deferral after our start: clients get no table (and no End-of-RIB) yet. */
  get deferringSelection(): boolean {
    return this.deferring;
  }

  /** RFC 4724 §4.1: the deferral ends when no peer is left to wait for, or when its timer runs out. */
  private checkDeferral(): void {
    if (!this.deferring) return;
    for (const n of this.neighbours.values()) if (this.awaited(n)) return;
    this.endDeferral();
  }

  /**
   * Whether the deferral waits for this peer. Clients keep our routes across our restart until
   * our End-of-RIB, then drop what we have not sent again: so we wait for what the others will
   * send. RFC 4724 §4.1 waits for the End-of-RIB of every peer except those that do not do
   * graceful restart and those that set Restart State (they are restarting too and may wait for
   * ours). A peer that set it is waited for all the same, but only RESTARTING_PEER_WAIT_MS after
   * its session came up: FRR sets it for a while after its own start, yet sends its routes and
   * End-of-RIB about a second after the session is up, and without them the others would lose
   * its routes; a peer that does wait for ours costs that long, not a deadlock.
   * And we wait only for a peer that can still send: one whose connection is being set up;
   * one not connected now (Active) that will connect to us (passive towards it) or that has a
   * speaker (a connection with it came up, and it closed it: FRR refuses us while it starts
   * over); not one whose session we ended (Idle: an error, maximum prefixes). A
   * peer whose every connect was refused has no speaker behind its address (a Node gone) and is
   * not waited for. With our Restart State bit set, no peer waits for our End-of-RIB before
   * sending its own, so the wait cannot deadlock; the deferral time bounds the rest.
   */
  private awaited(n: Neighbour): boolean {
    const s = n.peer.session;
    if (s.state === "Connect" || s.state === "OpenSent" || s.state === "OpenConfirm") return true;
    // Idle: we ended the session (an error, maximum prefixes) and wait out IdleHold
    if (s.state === "Idle") return false;
    if (s.state !== "Established") return s.cfg.passive || n.answered;
    const negotiated = s.negotiated;
    const gr = negotiated?.gracefulRestart;
    if (!negotiated || !gr) return false;
    if (gr.restarting && Date.now() - n.upAt >= RESTARTING_PEER_WAIT_MS) return false;
    // Every family of the session: a peer that only helps others restart (FRR's default) lists
    // no family of its own in the capability, yet sends End-of-RIB for each.
    return negotiated.families.some((family) => n.peer.endOfRib[family] <= (n.eorAtUp?.[family] ?? 0));
  }

  private endDeferral(timedOut = false): void {
    if (!this.deferring) return;
    const waitingFor = [...this.neighbours.values()]
      .filter((n) => this.awaited(n))
      .map((n) => n.peer.address);
    this.deferring = false;
    this.observer.deferralEnded?.(timedOut, waitingFor);
    clearTimeout(this.deferTimer);
    // From now on a new session does not announce Restart State.
    for (const n of this.neighbours.values()) {
      const gr = n.peer.session.cfg.gracefulRestart;
      if (gr) gr.restarting = false;
    }
    this.flush();
    for (const g of this.groups.values()) {
      for (const m of g.members) if (!m.synced) this.sendTable(m);
    }
  }

  get peers(): Peer[] {
    return [...this.neighbours.values()].map((n) => n.peer);
  }

  peer(address: string): Peer | undefined {
    return this.neighbours.get(address)?.peer;
  }

  /** Loc-RIB changes flushed so far: a version for caches of derived numbers. */
  private version = 0;
  private readonly advertisedCache = new Map<
    Group,
    { version: number; counts: Record<Family, number>; own: Map<PeerRef, Record<Family, number>> }
  >();

  /**
   * How many prefixes of each family a peer is sent (status and metrics; cached per group). A
   * route sent back to the peer it came from is not counted: the group's stream carries it to
   * every member, and that peer drops it by its ORIGINATOR_ID (RFC 4456 §8).
   */
  advertised(address: string): Record<Family, number> {
    const n = this.neighbours.get(address);
    const group = n?.member?.group;
    if (!n || !group) return { ipv4: 0, ipv6: 0 };
    let cached = this.advertisedCache.get(group);
    if (cached?.version !== this.version) {
      const counts: Record<Family, number> = { ipv4: 0, ipv6: 0 };
      /** prefixes whose paths sent all come from one peer, per peer */
      const own = new Map<PeerRef, Record<Family, number>>();
      for (const d of this.rib.all()) {
        if (!group.families.includes(d.family)) continue;
        const paths = group.paths(d);
        const from = paths[0]?.peer;
        if (!from) continue;
        counts[d.family]++;
        if (paths.every((p) => p.peer === from)) {
          const o = own.get(from) ?? { ipv4: 0, ipv6: 0 };
          o[d.family]++;
          own.set(from, o);
        }
      }
      cached = { version: this.version, counts, own };
      this.advertisedCache.set(group, cached);
    }
    const mine = cached.own.get(n.ref);
    if (!mine) return cached.counts;
    return { ipv4: cached.counts.ipv4 - mine.ipv4, ipv6: cached.counts.ipv6 - mine.ipv6 };
  }

  /** How many prefixes of each family a peer is not sent because their route is too large for it. */
  leftOut(address: string): Record<Family, number> {
    return this.neighbours.get(address)?.member?.group.leftOutCounts() ?? { ipv4: 0, ipv6: 0 };
  }

  /** The groups and their members, for status output and tests. */
  get updateGroups(): Group[] {
    return [...this.groups.values()];
  }

  addPeer(settings: PeerSettings): Peer {
    const localAs = settings.localAs ?? this.config.localAs;
    const ebgp = settings.peerAs !== localAs;
    const role: Role = ebgp ? "ebgp" : settings.client === false ? "non-client" : "client";
    const n: Neighbour = {
      settings,
      eorAtUp: undefined,
      self: {
        clusterId: settings.clusterId ?? this.clusterId,
        routerId: this.config.routerId,
        localAs,
        ...(settings.allowLocalAs ? { allowLocalAs: settings.allowLocalAs } : {}),
      },
      member: undefined,
      answered: false,
      upAt: 0,
      ref: {
        address: settings.peerAddress,
        addressKey: addressKey(settings.peerAddress),
        routerId: "0.0.0.0",
        ebgp,
        role,
      },
      peer: undefined as unknown as Peer,
    };
    n.peer = new Peer(
      {
        ...settings,
        localAs,
        routerId: this.config.routerId,
        // RFC 4724 §4.1: the Restart State bit in the OPENs sent during our selection deferral
        ...(settings.gracefulRestart
          ? { gracefulRestart: { ...settings.gracefulRestart, restarting: this.deferring } }
          : {}),
      },
      this.peerEvents,
      this.connector,
      this.attrTable,
    );
    this.neighbours.set(settings.peerAddress, n);
    n.peer.start();
    return n.peer;
  }

  /** The neighbour a peer's event is about; a peer already removed has none. */
  private neighbourOf(p: Peer): Neighbour | undefined {
    const n = this.neighbours.get(p.address);
    return n?.peer === p ? n : undefined;
  }

  /** A peer's event, handed on with its neighbour; a peer already removed has none. */
  private forNeighbour<A extends unknown[]>(
    handle: (n: Neighbour, ...args: A) => void,
  ): (p: Peer, ...args: A) => void {
    return (p, ...args) => {
      const n = this.neighbourOf(p);
      if (n) handle(n, ...args);
    };
  }

  /** Every peer's events, one object for all (at 100,000 peers, closures per peer add up). */
  private readonly peerEvents: PeerEvents = {
    changed: this.forNeighbour((n, change) => this.onChanged(n, change)),
    established: this.forNeighbour((n, negotiated) => this.onEstablished(n, negotiated)),
    down: this.forNeighbour((n) => this.onDown(n)),
    routeRefresh: this.forNeighbour((n, family) => this.onRouteRefresh(n, family)),
    endOfRib: () => this.checkDeferral(),
    stateChange: (p, from, to, reason) => {
      this.observer.stateChange?.(p, from, to, reason);
      const n = this.neighbourOf(p);
      if (n && to === "OpenSent") n.answered = true;
      // before the deferral looks at it (the established event comes after this one)
      if (n && to === "Established") {
        n.upAt = Date.now();
        n.eorAtUp = { ...n.peer.endOfRib };
      }
      this.checkDeferral();
    },
    notification: (...args) => this.observer.notification?.(...args),
  };

  /**
   * Stops a peer for good: its routes are withdrawn from the others at once, without graceful
   * restart, and it is told to drop ours (a Hard Reset where RFC 8538 is negotiated).
   */
  removePeer(address: string, message?: string, subcode?: number): void {
    const n = this.neighbours.get(address);
    if (!n) return;
    n.peer.stop(message, subcode);
    this.leave(n);
    this.neighbours.delete(address);
    this.checkDeferral();
  }

  /**
   * Stops every session. `retain`: a planned restart, after which graceful-restart clients keep
   * our routes until we are back (no NOTIFICATION, or RFC 8538's Administrative Reset);
   * otherwise they drop them (decommissioning).
   */
  stop(message?: string, retain = false): void {
    clearTimeout(this.deferTimer);
    for (const n of [...this.neighbours.values()]) {
      n.peer.stop(message, undefined, retain);
      this.leave(n);
    }
    this.neighbours.clear();
  }

  private onChanged(n: Neighbour, change: RibChange): void {
    for (const w of change.withdrawn) this.rib.remove(n.ref, w.family, w.prefix, w.pathId);
    for (const r of change.announced) {
      // RFC 4456 §8: a looped path is ineligible, as if withdrawn.
      if (isLooped(r.attrs.attributes, n.self)) {
        this.rib.remove(n.ref, r.family, r.prefix, r.pathId);
      } else {
        this.rib.upsert(n.ref, r.family, r.prefix, r.pathId, r.attrs);
      }
    }
    this.scheduleFlush();
  }

  private onEstablished(n: Neighbour, negotiated: Negotiated): void {
    n.ref.routerId = negotiated.peerId;
    this.leave(n);
    const receiver = {
      role: n.ref.role as Role,
      localAs: n.self.localAs,
      clusterId: n.self.clusterId,
      asn4: negotiated.asn4,
      ...(n.settings.nextHopSelf ? { nextHopSelf: n.settings.nextHopSelf } : {}),
    };
    const tx = negotiated.tx;
    const key = [
      receiver.role,
      receiver.localAs,
      receiver.clusterId,
      receiver.nextHopSelf ?? "",
      negotiated.families.join(","),
      tx.asn4,
      tx.addPath.ipv4,
      tx.addPath.ipv6,
      tx.extendedMessage,
      n.settings.addPathMax ?? "all",
    ].join("/");
    let group = this.groups.get(key);
    if (!group) {
      group = new Group(
        key,
        receiver,
        negotiated.families,
        tx,
        this.config.clientToClient ?? true,
        n.settings.addPathMax,
        this.config.highWater,
        this.onLeftOut,
      );
      this.groups.set(key, group);
    }
    const member: Member = {
      address: n.peer.address,
      socket: n.peer.session,
      group,
      synced: false,
      behind: false,
      missed: new Map(),
    };
    group.members.add(member);
    n.member = member;
    if (this.deferring) {
      if (negotiated.gracefulRestart?.restarting)
        setTimeout(() => this.checkDeferral(), RESTARTING_PEER_WAIT_MS).unref();
      this.checkDeferral();
      return;
    }
    this.sendTable(member);
  }

  private sendTable(member: Member): void {
    // Changes not yet flushed go out first, so the table below is the current one and nothing
    // the member needs comes after its End-of-RIB.
    this.flush();
    // RFC 4724 §2: the whole table, then End-of-RIB for each family.
    this.guarded(member.group, () => {
      member.group.write(
        member,
        member.group.fullTable(() => this.rib.all()),
      );
      member.synced = true;
    });
  }

  /**
   * Runs the outbound work of one update group. A fault in it must not take the other groups and
   * the process with it: the group fails (Group.fail) and its members come back to a group built
   * anew.
   */
  private guarded(g: Group, work: () => void): void {
    try {
      work();
    } catch (e) {
      this.groups.delete(g.key);
      g.fail(
        `internal error sending to update group ${g.key}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  private readonly onLeftOut = (g: Group, prefixes: string[]): void =>
    this.observer.leftOut?.(
      [...g.members].map((m) => m.address),
      prefixes,
    );

  private onDown(n: Neighbour): void {
    this.leave(n);
  }

  private leave(n: Neighbour): void {
    const m = n.member;
    if (!m) return;
    m.group.members.delete(m);
    if (m.group.members.size === 0) {
      // (a group dropped after a fault may already have a successor under its key)
      if (this.groups.get(m.group.key) === m.group) this.groups.delete(m.group.key);
      this.advertisedCache.delete(m.group);
    }
    n.member = undefined;
  }

  /** RFC 2918: send the table again; RFC 7313: between BoRR and EoRR when the peer speaks it. */
  private onRouteRefresh(n: Neighbour, family: Family): void {
    const m = n.member;
    const negotiated = n.peer.session.negotiated;
    if (!m?.synced || !negotiated?.families.includes(family)) return;
    const afi = AFI[family];
    const marker = (subtype: number) =>
      encodeMessage({ type: "ROUTE-REFRESH", afi, safi: 1, subtype }, negotiated.tx);
    const dests = [...this.rib.all()].filter((d) => d.family === family);
    const { chunks } = m.group.encode(dests, "table");
    m.group.write(m, negotiated.enhancedRouteRefresh ? [marker(1), ...chunks, marker(2)] : chunks);
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = true;
    // At least the configured delay, and at least as long as the last flush took: writing to
    // every member is the cost, so under load each flush carries more and they come no faster.
    const delay = Math.max(
      this.config.flushDelayMs ?? FLUSH_DELAY_MS,
      Math.min(this.lastFlushMs, MAX_FLUSH_DELAY_MS),
    );
    if (delay > 0) setTimeout(() => this.flush(), delay);
    else setImmediate(() => this.flush());
  }

  /** Sends what changed since the last flush to every group. */
  flush(): void {
    this.flushing = false;
    const dirty: Dest[] = [...this.rib.dirty];
    this.rib.dirty.clear();
    if (dirty.length === 0) return;
    this.version++;
    const start = performance.now();
    for (const g of [...this.groups.values()]) {
      if ([...g.members].some((m) => m.synced))
        this.guarded(g, () => g.send(g.encode(dirty, "change"), dirty));
      else g.invalidate();
    }
    for (const d of dirty) this.rib.settle(d);
    this.lastFlushMs = performance.now() - start;
  }

  /** how long the last flush took: the next waits at least that long */
  private lastFlushMs = 0;
}
