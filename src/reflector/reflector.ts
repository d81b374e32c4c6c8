// The route reflector as it runs: the engine (engine.ts) wired to a session per peer. Sessions'
// events become engine inputs stamped with the clock; the engine's actions are carried out on
// the sessions; its deadline is the one timer. Nothing here decides anything about routes.
import { AFI, type BgpError, encodeMessage, type Family, type NotificationMessage } from "../bgp/index.js";
import type { PeerFilters } from "../datastore/index.js";
import {
  type Connector,
  type FsmStateName,
  type GracefulRestartInfo,
  type Negotiated,
  Session,
  type SessionEvents,
  tcpConnector,
} from "../fsm/index.js";
import type { AdjRibIn, AttrTable, LocRib } from "../rib/index.js";
import { Engine, type EngineAction, type EngineConfig, type EngineInput } from "./engine.js";
import type { Group } from "./groups.js";
import type { Neighbor, NeighborConfig } from "./neighbor.js";

export type ReflectorConfig = EngineConfig;

/** What the reflector reports for logs and metrics. */
export interface ReflectorObserver {
  stateChange?(peer: Peer, from: FsmStateName, to: FsmStateName, reason?: string): void;
  notification?(peer: Peer, direction: "sent" | "received", n: NotificationMessage): void;
  /** the session left Established; `gracefulRestart`: the peer's routes are kept as stale */
  down?(peer: Peer, reason: string, gracefulRestart: boolean): void;
  /** the peer sent a ROUTE-REFRESH (subtype 0; RFC 7313: 1 BoRR, 2 EoRR) */
  routeRefresh?(peer: Peer, afi: number, safi: number, subtype: number): void;
  /** routes newly left out for these peers: too large for one UPDATE to them (RFC 4271 §9.2) */
  leftOut?(peers: string[], prefixes: string[]): void;
  /** the selection deferral after our start is over: every peer done, or its time ran out */
  deferralEnded?(timedOut: boolean, waitingFor: string[]): void;
}

/** One peer as it runs: its session, and what the engine keeps of it. */
export class Peer implements SessionEvents {
  readonly session: Session;

  constructor(
    private readonly reflector: Reflector,
    /** what the engine keeps of the peer */
    readonly neighbor: Neighbor,
    readonly config: NeighborConfig,
    connector: Connector,
  ) {
    // The peer is its session's event handler: no closures per peer (100,000 peers add up).
    this.session = new Session(config, this, connector);
  }

  get address(): string {
    return this.config.peerAddress;
  }

  get rib(): AdjRibIn {
    return this.neighbor.rib;
  }

  get updatesIn(): number {
    return this.neighbor.updatesIn;
  }

  /** End-of-RIB markers received, per family, in this and earlier sessions */
  get endOfRib(): Record<Family, number> {
    return this.neighbor.endOfRib;
  }

  /** Asks the peer to send its routes of a family again (RFC 2918). */
  requestRefresh(family: Family): boolean {
    const n = this.session.negotiated;
    if (!n?.routeRefresh) return false;
    return this.session.write(
      encodeMessage({ type: "ROUTE-REFRESH", afi: AFI[family], safi: 1, subtype: 0 }, n.tx),
    );
  }

  // SessionEvents: called by this.session. Events of a session that is no longer the peer's
  // (removed, or replaced) only reach the observer.

  private input(input: EngineInput): EngineAction[] {
    return this.reflector.current(this) ? this.reflector.input(input) : [];
  }

  stateChange(from: FsmStateName, to: FsmStateName, reason?: string): void {
    this.reflector.observer.stateChange?.(this, from, to, reason);
    this.reflector.run(this.input({ type: "state", peer: this.address, to }));
  }

  established(negotiated: Negotiated): void {
    this.reflector.run(this.input({ type: "up", peer: this.address, negotiated, transport: this.session }));
  }

  down(reason: string, gracefulRestart?: GracefulRestartInfo): void {
    this.reflector.run(
      this.input({ type: "down", peer: this.address, ...(gracefulRestart ? { gracefulRestart } : {}) }),
    );
    this.reflector.observer.down?.(this, reason, this.neighbor.keptStale);
  }

  update(frame: Buffer): BgpError | undefined {
    const actions = this.input({ type: "update", peer: this.address, frame });
    if (actions.length === 0) {
      this.reflector.run(actions);
      return undefined;
    }
    // The session acts on the error once it is done with this message (RFC 7606, RFC 4486 §4).
    const reset = actions.find((a) => a.type === "reset" && a.peer === this.address);
    this.reflector.run(actions.filter((a) => a !== reset));
    return reset?.type === "reset" ? reset.error : undefined;
  }

  routeRefresh(afi: number, safi: number, subtype: number): void {
    this.reflector.observer.routeRefresh?.(this, afi, safi, subtype);
    this.reflector.run(this.input({ type: "refresh", peer: this.address, afi, safi, subtype }));
  }

  notificationSent(n: NotificationMessage): void {
    this.reflector.observer.notification?.(this, "sent", n);
  }

  notificationReceived(n: NotificationMessage): void {
    this.reflector.observer.notification?.(this, "received", n);
  }
}

export class Reflector {
  readonly engine: Engine;
  private readonly sessions = new Map<string, Peer>();
  /** the one timer: the engine's deadline */
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private timerAt: number | undefined;
  private lastTickMs = 0;

  constructor(
    readonly config: ReflectorConfig,
    private readonly connector: Connector = tcpConnector,
    /** session transitions and NOTIFICATIONs of every peer, for logs and metrics */
    readonly observer: ReflectorObserver = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.engine = new Engine(config, clock());
    this.schedule();
  }

  get rib(): LocRib {
    return this.engine.rib;
  }

  get attrTable(): AttrTable {
    return this.engine.attrTable;
  }

  /** In the selection deferral after our start: clients get no table (and no End-of-RIB) yet. */
  get deferringSelection(): boolean {
    return this.engine.deferringSelection;
  }

  get peers(): Peer[] {
    return [...this.sessions.values()];
  }

  peer(address: string): Peer | undefined {
    return this.sessions.get(address);
  }

  /** How many prefixes of each family a peer is sent (status and metrics). */
  advertised(address: string) {
    return this.engine.advertised(address);
  }

  /** The prefixes a peer is sent, at most `limit` (Engine.advertisedPrefixes). */
  advertisedPrefixes(address: string, limit: number): string[] {
    return this.engine.advertisedPrefixes(address, limit);
  }

  /** Why a peer is or is not sent each path of a prefix (Engine.why). */
  why(prefix: string, address: string): string[] {
    return this.engine.why(prefix, address);
  }

  /** The peer has had its whole table and End-of-RIB on this session. */
  sentTable(address: string): boolean {
    return this.engine.sentTable(address);
  }

  /** How many prefixes of each family a peer is not sent because their route is too large for it. */
  leftOut(address: string) {
    return this.engine.leftOut(address);
  }

  /** The groups and their members, for status output and tests. */
  get updateGroups(): Group[] {
    return this.engine.updateGroups;
  }

  addPeer(config: NeighborConfig): Peer {
    this.run(this.input({ type: "add", config }));
    return this.sessions.get(config.peerAddress)!;
  }

  /** New BGPFilter rules for a peer, applied without a new session. */
  setFilters(address: string, filters: PeerFilters | undefined): void {
    this.run(this.input({ type: "filters", peer: address, ...(filters ? { filters } : {}) }));
  }

  /**
   * Stops a peer for good: its routes are withdrawn from the others at once, without graceful
   * restart, and it is told to drop ours (a Hard Reset where RFC 8538 is negotiated).
   */
  removePeer(address: string, message?: string, subcode?: number): void {
    this.run(
      this.input({
        type: "remove",
        peer: address,
        ...(message !== undefined ? { message } : {}),
        ...(subcode !== undefined ? { subcode } : {}),
      }),
    );
  }

  /**
   * Stops every session. `retain`: a planned restart, after which graceful-restart clients keep
   * our routes until we are back (no NOTIFICATION, or RFC 8538's Administrative Reset);
   * otherwise they drop them (decommissioning).
   */
  stop(message?: string, retain = false): void {
    this.run(this.input({ type: "stop", ...(message !== undefined ? { message } : {}), retain }));
  }

  /** Whether this peer's session is the one the engine knows (not one removed or replaced). */
  current(p: Peer): boolean {
    return this.sessions.get(p.address) === p;
  }

  /** Feeds the engine one input, stamped with the clock. */
  input(input: EngineInput): EngineAction[] {
    return this.engine.handle(this.clock(), input);
  }

  /** Carries out the engine's actions, then sets the timer to its deadline. */
  run(actions: EngineAction[]): void {
    for (const a of actions) this.act(a);
    this.schedule();
  }

  private act(a: EngineAction): void {
    switch (a.type) {
      case "open": {
        const gr = a.config.gracefulRestart;
        // RFC 4724 §4.1: the Restart State bit in the OPENs sent during our selection deferral
        const cfg = gr ? { ...a.config, gracefulRestart: { ...gr, restarting: a.restarting } } : a.config;
        const n = this.engine.neighbor(a.config.peerAddress);
        if (!n) return;
        const p = new Peer(this, n, cfg, this.connector);
        this.sessions.set(a.config.peerAddress, p);
        p.session.start();
        return;
      }
      case "stop": {
        const p = this.sessions.get(a.peer);
        if (!p) return;
        this.sessions.delete(a.peer);
        p.session.stop(a.message, a.subcode, a.retain);
        return;
      }
      case "close":
        this.sessions.get(a.peer)?.session.close(a.notification, a.reason);
        return;
      case "reset":
        return; // returned to the session by Peer.update: it comes only from the UPDATE in hand
      case "await-drain": {
        const p = this.sessions.get(a.peer);
        p?.session.onDrain(() => {
          if (this.current(p)) this.run(this.input({ type: "drained", peer: a.peer }));
        });
        return;
      }
      case "restart-over":
        for (const p of this.sessions.values()) {
          const gr = p.session.cfg.gracefulRestart;
          if (gr) gr.restarting = false;
        }
        return;
      case "log": {
        const e = a.event;
        if (e.name === "leftOut") this.observer.leftOut?.(e.peers, e.prefixes);
        else this.observer.deferralEnded?.(e.timedOut, e.waitingFor);
        return;
      }
    }
  }

  /** Sets the one timer to the engine's deadline: at once (setImmediate) when it is due. */
  private schedule(): void {
    const at = this.engine.deadline();
    if (at === this.timerAt && (this.timer || this.immediate)) return;
    this.clearTimer();
    this.timerAt = at;
    if (at === undefined) return;
    const wait = at - this.clock();
    if (wait <= 0) this.immediate = setImmediate(() => this.tick());
    else this.timer = setTimeout(() => this.tick(), wait);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.timerAt = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    this.immediate = undefined;
    this.timerAt = undefined;
    const start = performance.now();
    const actions = this.input({ type: "tick", lastTickMs: this.lastTickMs });
    this.lastTickMs = performance.now() - start;
    this.run(actions);
  }
}
