// The routing engine: peers' routes in, the Loc-RIB, update groups out (RFC 4271, RFC 4456).
// Pure: an input is an event with the time it happened (handle(now, input)); the outputs are the
// octets written to each member's Transport and the actions handle() returns (sessions to open,
// stop or reset, waits for a drain, log events); its timers are one deadline (deadline()) at
// which the caller ticks it. No timers, sockets, clocks or randomness inside: a replay with a
// fake clock gives what the daemon gives. reflector.ts wires it to the sessions.
import {
  AFI,
  type BgpError,
  CapabilityCode,
  CeaseSubcode,
  encodeMessage,
  type Family,
  familyOf,
  formatKey,
  type NotificationMessage,
  withPathId,
} from "../bgp/index.js";
import type { PeerFilters } from "../datastore/peerings.js";
import type { FsmStateName, GracefulRestartInfo, Negotiated } from "../fsm/index.js";
import { AttrTable, type Dest, LocRib, type PeerRef, type RibSink } from "../rib/index.js";
import { Deferral, type DeferralEnd } from "./deferral.js";
import { Group, type GroupOutputs, type Member, type Transport } from "./groups.js";
import { Neighbor, type NeighborConfig } from "./neighbor.js";
import { chainKey, ExportPolicy } from "./policy.js";
import { isLooped } from "./rules.js";

export interface EngineConfig {
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

export type EngineInput =
  /** a peering is configured: its session is to be opened */
  | { type: "add"; config: NeighborConfig }
  /**
   * a peering's BGPFilter rules changed (nothing else did): what it sent us is imported again
   * and what it is sent follows the new rules, without a new session
   */
  | { type: "filters"; peer: string; filters?: PeerFilters }
  /** a peering is gone: its routes are withdrawn at once, and it is told to drop ours */
  | { type: "remove"; peer: string; message?: string; subcode?: number }
  /** every session ends; `retain`: a planned restart, after which clients keep our routes */
  | { type: "stop"; message?: string; retain?: boolean }
  /** the session moved to this state (RFC 4271 §8) */
  | { type: "state"; peer: string; to: FsmStateName }
  /** the session is Established with these capabilities; what it is sent goes to `transport` */
  | { type: "up"; peer: string; negotiated: Negotiated; transport: Transport }
  /** an UPDATE, the whole message (a view, valid during the call) */
  | { type: "update"; peer: string; frame: Buffer }
  /** a ROUTE-REFRESH (RFC 2918), or an RFC 7313 BoRR (subtype 1) or EoRR (2) */
  | { type: "refresh"; peer: string; afi: number; safi: number; subtype: number }
  /** the session left Established; with graceful restart, the peer's routes are kept as stale */
  | { type: "down"; peer: string; gracefulRestart?: GracefulRestartInfo }
  /** what was queued to the peer has drained (after an await-drain) */
  | { type: "drained"; peer: string }
  /** time passed: what is due runs. `lastTickMs`: how long the previous tick took, measured by the caller */
  | { type: "tick"; lastTickMs?: number };

/** What the engine reports for logs and metrics. */
export type EngineEvent =
  /** routes newly left out for these peers: too large for one UPDATE to them (RFC 4271 §9.2) */
  | { name: "leftOut"; peers: string[]; prefixes: string[] }
  /** the selection deferral after our start is over: every peer done, or its time ran out */
  | { name: "deferralEnded"; timedOut: boolean; waitingFor: string[] };

export type EngineAction =
  /** open a session; `restarting`: with the Restart State bit (RFC 4724 §4.1) */
  | { type: "open"; config: NeighborConfig; restarting: boolean }
  /** end a session for good, Cease (Administrative Shutdown unless `subcode`); `retain`: a planned restart */
  | { type: "stop"; peer: string; message?: string; subcode?: number; retain: boolean }
  /** what the UPDATE just handled requires of its session (RFC 7606, RFC 4486 §4) */
  | { type: "reset"; peer: string; error: BgpError }
  /** reset a session (a fault in the outbound work), damped like any failure */
  | { type: "close"; peer: string; notification: NotificationMessage; reason: string }
  /** input `drained` once what is queued to the peer has drained */
  | { type: "await-drain"; peer: string }
  /** OPENs from now on no longer set the Restart State bit */
  | { type: "restart-over" }
  | { type: "log"; event: EngineEvent };

/**
 * A burst of changes (a thousand nodes announcing at once) goes out in a few flushes instead of
 * one per change: each flush writes to every member, so this divides the writes.
 */
const FLUSH_DELAY_MS = 10;
const MAX_FLUSH_DELAY_MS = 1000;
/** what a step that writes should take, and the bounds of its budget in octets */
const SLICE_TARGET_MS = 5;
const MIN_SLICE = 1024 * 1024;
const MAX_SLICE = 1024 * 1024 * 1024;

export class Engine {
  readonly attrTable = new AttrTable();
  readonly rib: LocRib;
  private readonly neighbors = new Map<string, Neighbor>();
  private readonly groups = new Map<string, Group>();
  private readonly clusterId: string;
  /** the time of the input being handled */
  private now: number;
  /** the actions of the input being handled */
  private out: EngineAction[] = [];
  /** when what changed goes out, while something is waiting to */
  private flushAt: number | undefined;
  /** how long the last tick took on the real clock: a flush waits at least that long */
  private lastTickMs = 0;
  private readonly deferral: Deferral;
  /** peers whose stale routes wait for their deadline */
  private readonly stale = new Set<Neighbor>();
  private stopped = false;
  /** octets a step writes at most, adjusted to the time steps take (tick's lastTickMs) */
  private sliceOctets = 8 * 1024 * 1024;
  /** the last tick wrote a slice */
  private pumped = false;

  constructor(
    readonly config: EngineConfig,
    now: number,
  ) {
    this.now = now;
    this.rib = new LocRib(now);
    this.clusterId = config.clusterId ?? config.routerId;
    this.deferral = new Deferral(config.selectionDeferral ?? 0, now);
  }

  /** Handles one input at time `now`; the actions it asks for, in order. */
  handle(now: number, input: EngineInput): EngineAction[] {
    // An action carried out during this call (a session reset) may feed the engine again.
    const outer = this.out;
    this.out = [];
    this.now = now;
    try {
      this.dispatch(input);
      return this.out;
    } finally {
      this.out = outer;
    }
  }

  /** When the engine is next to be ticked: now, when writes wait for their next slice. */
  deadline(): number | undefined {
    if (this.stopped) return undefined;
    // (asked after every input: no allocation here)
    for (const g of this.groups.values()) if (g.pending) return this.now;
    let at = earlier(this.flushAt, this.deferral.deadline());
    for (const n of this.stale) at = earlier(at, n.staleUntil);
    return at;
  }

  private dispatch(input: EngineInput): void {
    if (input.type === "add") {
      this.add(input.config);
      return;
    }
    if (input.type === "stop") {
      this.stop(input.message, input.retain ?? false);
      return;
    }
    if (input.type === "tick") {
      this.tick(input.lastTickMs);
      return;
    }
    const n = this.neighbors.get(input.peer);
    // a peer already removed: what its session still reports is of no interest
    if (!n) return;
    switch (input.type) {
      case "remove":
        this.remove(n, input.message, input.subcode);
        return;
      case "filters":
        this.setFilters(n, input.filters);
        return;
      case "state":
        n.state = input.to;
        if (input.to === "OpenSent") n.answered = true;
        this.checkDeferral();
        return;
      case "up":
        this.up(n, input.negotiated, input.transport);
        return;
      case "update":
        this.update(n, input.frame);
        return;
      case "refresh":
        this.refresh(n, input.afi, input.safi, input.subtype);
        return;
      case "down":
        n.down(input.gracefulRestart, this.now, this.sink(n));
        this.changed(n);
        this.leave(n);
        return;
      case "drained": {
        const m = n.member;
        if (m) this.guarded(m.group, () => m.group.catchUp(m));
        return;
      }
    }
  }

  /** In the selection deferral after our start: clients get no table (and no End-of-RIB) yet. */
  get deferringSelection(): boolean {
    return this.deferral.active;
  }

  neighbor(address: string): Neighbor | undefined {
    return this.neighbors.get(address);
  }

  /** The groups and their members, for status output and tests. */
  get updateGroups(): Group[] {
    return [...this.groups.values()];
  }

  private add(config: NeighborConfig): void {
    const old = this.neighbors.get(config.peerAddress);
    if (old) this.remove(old, "peer configuration changed", CeaseSubcode.OTHER_CONFIGURATION_CHANGE);
    this.neighbors.set(config.peerAddress, new Neighbor(config, this.attrTable));
    this.out.push({ type: "open", config, restarting: this.deferral.active });
  }

  /**
   * Stops a peer for good: its routes are withdrawn from the others at once, without graceful
   * restart, and it is told to drop ours (a Hard Reset where RFC 8538 is negotiated).
   */
  private remove(n: Neighbor, message?: string, subcode?: number): void {
    this.out.push({
      type: "stop",
      peer: n.address,
      ...(message !== undefined ? { message } : {}),
      ...(subcode !== undefined ? { subcode } : {}),
      retain: false,
    });
    n.clear(this.sink(n));
    this.changed(n);
    this.leave(n);
    this.neighbors.delete(n.address);
    this.deferral.forget(n);
    this.checkDeferral();
  }

  /**
   * Stops every session. `retain`: a planned restart, after which graceful-restart clients keep
   * our routes until we are back (no NOTIFICATION, or RFC 8538's Administrative Reset);
   * otherwise they drop them (decommissioning).
   */
  private stop(message: string | undefined, retain: boolean): void {
    this.stopped = true;
    for (const n of this.neighbors.values()) {
      this.out.push({ type: "stop", peer: n.address, ...(message !== undefined ? { message } : {}), retain });
      n.clear(this.sink(n));
      this.changed(n);
      this.leave(n);
    }
    this.neighbors.clear();
  }

  private tick(lastTickMs: number | undefined): void {
    if (lastTickMs !== undefined) {
      this.lastTickMs = lastTickMs;
      // A step that wrote should take about SLICE_TARGET_MS on the caller's clock: the budget
      // follows what writing costs there (a TCP socket copies, the in-memory transport does not).
      if (this.pumped) {
        const factor = Math.min(4, Math.max(0.5, SLICE_TARGET_MS / Math.max(lastTickMs, 0.1)));
        this.sliceOctets = Math.min(MAX_SLICE, Math.max(MIN_SLICE, Math.round(this.sliceOctets * factor)));
      }
    }
    this.pumped = false;
    for (const n of [...this.stale]) {
      n.expire(this.now, this.sink(n));
      this.changed(n);
    }
    this.checkDeferral();
    if (this.flushAt !== undefined && this.now >= this.flushAt) this.flush();
    for (const g of [...this.groups.values()]) {
      if (!g.pending) continue;
      this.pumped = true;
      this.guarded(g, () => g.pump());
    }
  }

  /** Where a peer's Adj-RIB-In changes go: into the Loc-RIB, one route at a time. */
  private readonly sinks = new WeakMap<Neighbor, RibSink>();

  private sink(n: Neighbor): RibSink {
    let sink = this.sinks.get(n);
    if (!sink) {
      sink = {
        announce: (key, set) => {
          // RFC 4456 §8, RFC 4271 §9.1.2: a looped path is ineligible, as if withdrawn; so is
          // one an import rule rejects.
          const attrs = isLooped(set.attributes, n.self) ? undefined : n.imported(key, set);
          if (attrs) this.rib.upsert(n.ref, key, attrs, this.now);
          else this.rib.remove(n.ref, key);
        },
        withdraw: (key) => this.rib.remove(n.ref, key),
      };
      this.sinks.set(n, sink);
    }
    return sink;
  }

  /** After a peer's Adj-RIB-In changed: its stale deadline, and a flush for what changed. */
  private changed(n: Neighbor): void {
    if (n.staleUntil === undefined) this.stale.delete(n);
    else this.stale.add(n);
    if (this.rib.dirty.size) this.scheduleFlush();
  }

  private update(n: Neighbor, frame: Buffer): void {
    const r = n.update(frame, this.sink(n));
    this.changed(n);
    if (r.error) this.out.push({ type: "reset", peer: n.address, error: r.error });
    if (r.endOfRib) this.checkDeferral();
  }

  private refresh(n: Neighbor, afi: number, safi: number, subtype: number): void {
    const family = familyOf(afi, safi);
    if (!family) return;
    if (subtype === 0) this.routeRefresh(n, family);
    else {
      n.refreshMarker(family, subtype, this.sink(n));
      this.changed(n);
    }
  }

  /** RFC 4724 §4.1: the deferral ends when no peer is left to wait for, or when its time runs out. */
  private checkDeferral(): void {
    const end = this.deferral.check(this.neighbors.values(), this.now);
    if (end) this.endDeferral(end);
  }

  private endDeferral({ timedOut, waitingFor }: DeferralEnd): void {
    this.out.push({ type: "log", event: { name: "deferralEnded", timedOut, waitingFor } });
    // From now on a new session does not announce Restart State.
    this.out.push({ type: "restart-over" });
    this.flush();
    for (const g of [...this.groups.values()]) {
      for (const m of g.members) if (!m.synced) this.sendTable(m);
    }
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
    const n = this.neighbors.get(address);
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

  /** The prefixes a peer is sent (at most `limit`), in Loc-RIB order: what `status PEER` lists. */
  advertisedPrefixes(address: string, limit: number): string[] {
    const n = this.neighbors.get(address);
    const group = n?.member?.group;
    if (!n || !group) return [];
    const out: string[] = [];
    for (const d of this.rib.all()) {
      if (out.length >= limit) break;
      if (!group.families.includes(d.family)) continue;
      // (a route of its own comes back with the group's stream; it drops it, so it is not counted)
      if (group.paths(d).some((p) => p.peer !== n.ref)) out.push(formatKey(d.key));
    }
    return out;
  }

  /**
   * Why a peer is or is not sent each path of a prefix, in words (`routereflector why`): the
   * reflection rules, the export policy, the size limit, best path and ADD-PATH, and whether what
   * it is sent is still queued.
   */
  why(prefix: string, address: string): string[] {
    const n = this.neighbors.get(address);
    if (!n) return [`${address} is not a peer`];
    const family: Family = prefix.includes(":") ? "ipv6" : "ipv4";
    const d = this.rib.get(family, prefix);
    if (!d?.paths.length)
      return [`no path of ${prefix} is held: nobody sent it, or it was withdrawn or rejected on import`];
    const m = n.member;
    if (!m) return [`the session with ${address} is ${n.state}, not Established: nothing is sent to it`];
    if (!m.group.families.includes(family)) return [`the session with ${address} does not carry ${family}`];
    if (!m.synced) return [`${address} gets no table yet: the selection deferral after our start is on`];
    const lines: string[] = [];
    for (const p of d.paths) {
      const what = `path from ${p.peer.address}${p.pathId ? ` (path id ${p.pathId})` : ""}${p === d.best ? ", the best" : ""}`;
      if (p.peer === n.ref) {
        lines.push(
          `${what}: its own; sent back with the group's stream only where it is one of the group's paths, and it drops it (ORIGINATOR_ID)`,
        );
        continue;
      }
      const not = m.group.whyNot(p, d);
      if (not) {
        lines.push(`${what}: not sent: ${not}`);
        continue;
      }
      const where = this.rib.dirty.has(d)
        ? "changed: goes out at the next flush"
        : m.behind && m.missed.has(d)
          ? `queued: ${address} reads too slowly, and gets it when it has caught up`
          : m.group.pending
            ? "sent: in the group's writes still being written"
            : `sent at ${new Date(this.rib.time(Math.max(d.flushedAt, m.sentAllAt ?? 0))).toISOString()}`;
      const stale = this.neighbors.get(p.peer.address)?.rib.isStale(withPathId(d.key, p.pathId));
      lines.push(`${what}: ${where}${stale ? " (stale: kept from its session that went down)" : ""}`);
    }
    return lines;
  }

  /** The peer has had its whole table and End-of-RIB on this session (RFC 4724 §2). */
  sentTable(address: string): boolean {
    return this.neighbors.get(address)?.member?.synced === true;
  }

  /** How many prefixes of each family a peer is not sent because their route is too large for it. */
  leftOut(address: string): Record<Family, number> {
    return this.neighbors.get(address)?.member?.group.leftOutCounts() ?? { ipv4: 0, ipv6: 0 };
  }

  /** What the groups ask of the sessions and logs, as actions of the input being handled. */
  private readonly groupOutputs: GroupOutputs = {
    sliceOctets: () => this.sliceOctets,
    awaitDrain: (m) => this.out.push({ type: "await-drain", peer: m.address }),
    close: (m, notification, reason) =>
      this.out.push({ type: "close", peer: m.address, notification, reason }),
    leftOut: (g, prefixes) =>
      this.out.push({
        type: "log",
        event: { name: "leftOut", peers: [...g.members].map((m) => m.address), prefixes },
      }),
  };

  private up(n: Neighbor, negotiated: Negotiated, transport: Transport): void {
    n.up(negotiated, this.now, this.sink(n));
    this.changed(n);
    this.leave(n);
    const group = this.groupFor(n, negotiated);
    const member: Member = {
      address: n.address,
      transport,
      group,
      synced: false,
      behind: false,
      missed: new Map(),
    };
    group.members.add(member);
    n.member = member;
    if (this.deferral.active) {
      this.deferral.up(n);
      this.checkDeferral();
      return;
    }
    this.sendTable(member);
  }

  /** The update group of peers sent what this one is sent: the same outbound fingerprint. */
  private groupFor(n: Neighbor, negotiated: Negotiated): Group {
    const c = n.config;
    const exports = n.filters?.export;
    const receiver = {
      role: c.role,
      localAs: c.localAs,
      clusterId: c.clusterId,
      asn4: negotiated.asn4,
      ...(c.nextHopSelf ? { nextHopSelf: c.nextHopSelf } : {}),
      llgrAware: negotiated.received.some((cap) => cap.code === CapabilityCode.LONG_LIVED_GRACEFUL_RESTART),
    };
    const tx = negotiated.tx;
    const key = [
      receiver.role,
      receiver.localAs,
      receiver.clusterId,
      receiver.nextHopSelf ?? "",
      receiver.llgrAware,
      negotiated.families.join(","),
      tx.asn4,
      tx.addPath.ipv4,
      tx.addPath.ipv6,
      tx.extendedMessage,
      c.addPathMax ?? "all",
      chainKey(exports, n.filters?.defaultExport),
    ].join("/");
    let group = this.groups.get(key);
    if (!group) {
      group = new Group(
        key,
        receiver,
        negotiated.families,
        tx,
        this.config.clientToClient ?? true,
        c.addPathMax,
        this.config.highWater,
        this.groupOutputs,
        exports?.length || n.filters?.defaultExport
          ? new ExportPolicy(exports ?? [], n.filters?.defaultExport)
          : undefined,
      );
      this.groups.set(key, group);
    }
    return group;
  }

  /**
   * New BGPFilter rules for a peer. Import rules: its Adj-RIB-In is imported again. Export rules:
   * it moves to the group of its new fingerprint and is sent the difference, what the old rules
   * sent it and the new ones do not withdrawn, what they send announced (a soft reset out).
   */
  private setFilters(n: Neighbor, filters: PeerFilters | undefined): void {
    const exportsBefore = chainKey(n.filters?.export, n.filters?.defaultExport);
    if (n.setFilters(filters)) {
      const sink = this.sink(n);
      for (const [key, attrs] of n.rib.entries()) sink.announce(key, attrs);
      this.changed(n);
    }
    const m = n.member;
    if (!m || !n.negotiated || chainKey(filters?.export, filters?.defaultExport) === exportsBefore) return;
    // Everything before goes out under the old rules first, so the old group's view is what was sent.
    this.flush();
    const old = m.group;
    const sent = new Map<Dest, number[]>(m.missed);
    for (const d of this.rib.all()) {
      if (!old.families.includes(d.family)) continue;
      const ids = old.paths(d).map((p) => p.id);
      if (ids.length) sent.set(d, [...(sent.get(d) ?? []), ...ids]);
    }
    this.leave(n);
    const group = this.groupFor(n, n.negotiated);
    group.members.add(m);
    m.group = group;
    m.missed = new Map();
    m.behind = false;
    n.member = m;
    if (!m.synced) return;
    const dests = [...this.rib.all()].filter(
      (d) => group.families.includes(d.family) && (sent.has(d) || group.paths(d).length > 0),
    );
    this.guarded(group, () => group.write(m, group.encode(dests, "catch-up", sent).chunks));
    m.sentAllAt = this.rib.stamp(this.now);
  }

  private sendTable(member: Member): void {
    // RFC 4724 §2: the whole table as it is now, unflushed changes included, so that nothing the
    // member needs comes after its End-of-RIB; then End-of-RIB for each family (Group.fullTable).
    // A table is made as of a flush: a group without a usable one flushes first. Otherwise
    // nothing is flushed for it: in a burst of sessions coming up, each would write a flush to
    // every member.
    if (!member.group.tableUsable(this.rib.dirty.size)) this.flush();
    this.guarded(member.group, () => {
      member.group.write(
        member,
        member.group.fullTable(() => this.rib.all(), this.rib.dirty),
      );
      member.synced = true;
      member.sentAllAt = this.rib.stamp(this.now);
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
      if (this.groups.get(g.key) === g) this.groups.delete(g.key);
      g.fail(
        `internal error sending to update group ${g.key}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  private leave(n: Neighbor): void {
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
  private routeRefresh(n: Neighbor, family: Family): void {
    const m = n.member;
    const negotiated = n.negotiated;
    if (!m?.synced || !negotiated?.families.includes(family)) return;
    const afi = AFI[family];
    const marker = (subtype: number) =>
      encodeMessage({ type: "ROUTE-REFRESH", afi, safi: 1, subtype }, negotiated.tx);
    const dests = [...this.rib.all()].filter((d) => d.family === family);
    this.guarded(m.group, () => {
      const { chunks } = m.group.encode(dests, "table");
      m.group.write(m, negotiated.enhancedRouteRefresh ? [marker(1), ...chunks, marker(2)] : chunks);
    });
  }

  private scheduleFlush(): void {
    if (this.flushAt !== undefined) return;
    // At least the configured delay, and at least as long as the last tick took: writing to
    // every member is the cost, so under load each flush carries more and they come no faster.
    const delay = Math.max(
      this.config.flushDelayMs ?? FLUSH_DELAY_MS,
      Math.min(this.lastTickMs, MAX_FLUSH_DELAY_MS),
    );
    this.flushAt = this.now + delay;
  }

  /** Sends what changed since the last flush to every group. */
  private flush(): void {
    this.flushAt = undefined;
    const dirty: Dest[] = [...this.rib.dirty];
    this.rib.dirty.clear();
    if (dirty.length === 0) return;
    this.version++;
    for (const g of [...this.groups.values()]) {
      if ([...g.members].some((m) => m.synced))
        this.guarded(g, () => g.send(g.encode(dirty, "change"), dirty));
      else g.invalidate();
    }
    for (const d of dirty) this.rib.settle(d, this.now);
  }
}

/** The earlier of two deadlines, either of which may be unset. */
function earlier(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || (b !== undefined && b < a) ? b : a;
}
