// One configured peer: its session, its Adj-RIB-In, and the rules that join them: RFC 7606
// outcomes, graceful restart in the receiving-speaker role (RFC 4724 §4.2), enhanced route
// refresh (RFC 7313), maximum prefixes (RFC 4486 §4).
import {
  AFI,
  attributeKey,
  type BgpError,
  CeaseSubcode,
  decodeMessage,
  ErrorCode,
  encodeMessage,
  type Family,
  familyOf,
  type NotificationMessage,
  sessionReset,
  type UpdateMessage,
} from "../bgp/index.js";
import type { FsmStateName, GracefulRestartInfo, Negotiated } from "../fsm/index.js";
import { type Connector, type PeerConfig, Session, type SessionEvents, tcpConnector } from "../fsm/index.js";
import { AdjRibIn, AttrTable, type RibChange } from "../rib/index.js";
import { inboundAttributes } from "./rules.js";

export interface PeerOptions extends PeerConfig {
  /** RFC 4486 §4: reset the session above this many prefixes per family */
  maxPrefixes?: number;
  /** upper bound on how long a restarting peer's routes are kept (Calico's maxRestartTime) */
  maxRestartTime?: number;
  /** how long stale routes wait for End-of-RIB once the peer is back */
  staleTime?: number;
}

export interface PeerEvents {
  changed?(peer: Peer, change: RibChange): void;
  established?(peer: Peer, negotiated: Negotiated): void;
  down?(peer: Peer, reason: string, gracefulRestart: boolean): void;
  routeRefresh?(peer: Peer, family: Family): void;
  endOfRib?(peer: Peer, family: Family): void;
  /** for logs and metrics */
  stateChange?(peer: Peer, from: FsmStateName, to: FsmStateName, reason?: string): void;
  notification?(peer: Peer, direction: "sent" | "received", n: NotificationMessage): void;
}

export class Peer implements SessionEvents {
  readonly session: Session;
  readonly rib: AdjRibIn;
  /** families whose routes are stale after a restart, waiting for End-of-RIB */
  private readonly restarting = new Set<Family>();
  private grTimer: NodeJS.Timeout | undefined;
  updatesIn = 0;
  /** End-of-RIB markers received, per family, in this and earlier sessions */
  readonly endOfRib: Record<Family, number> = { ipv4: 0, ipv6: 0 };

  constructor(
    readonly options: PeerOptions,
    private readonly events: PeerEvents = {},
    connector: Connector = tcpConnector,
    /** shared with the other peers, so equal attribute blocks are stored once */
    readonly attrTable: AttrTable = new AttrTable(),
  ) {
    this.rib = new AdjRibIn(attrTable);
    // The peer is its session's event handler: no closures per peer (100,000 peers add up).
    this.session = new Session(options, this, connector);
  }

  get address(): string {
    return this.options.peerAddress;
  }

  start(): void {
    this.session.start();
  }

  /**
   * Cease with an RFC 8203 message; Administrative Shutdown unless another RFC 4486 subcode is
   * given. `retain`: a planned restart of ours, after which the peer keeps our routes.
   */
  stop(message?: string, subcode?: number, retain = false): void {
    this.session.stop(message, subcode, retain);
    this.clearGr();
    this.emit(this.rib.clear());
  }

  /** Asks the peer to send its routes of a family again (RFC 2918). */
  requestRefresh(family: Family): boolean {
    if (!this.session.negotiated?.routeRefresh) return false;
    const m = encodeMessage(
      { type: "ROUTE-REFRESH", afi: AFI[family], safi: 1, subtype: 0 },
      this.session.negotiated.tx,
    );
    return this.session.write(m);
  }

  private emit(change: RibChange): void {
    if (change.announced.length || change.withdrawn.length) this.events.changed?.(this, change);
  }

  // SessionEvents: called by this.session, not by users of the peer.

  stateChange(from: FsmStateName, to: FsmStateName, reason?: string): void {
    this.events.stateChange?.(this, from, to, reason);
  }

  notificationSent(n: NotificationMessage): void {
    this.events.notification?.(this, "sent", n);
  }

  notificationReceived(n: NotificationMessage): void {
    this.events.notification?.(this, "received", n);
  }

  update(frame: Buffer, n: Negotiated): BgpError | undefined {
    this.updatesIn++;
    const { message, error } = decodeMessage(frame, n.rx);
    if (error?.action === "session-reset" || error?.action === "afi-safi-disable") return error;
    const m = message as UpdateMessage;
    const eor = m.endOfRib && familyOf(m.endOfRib.afi, m.endOfRib.safi);
    if (eor) {
      this.endOfRib[eor]++;
      if (this.restarting.delete(eor)) this.emit(this.rib.sweep(eor));
      if (this.restarting.size === 0) this.clearGr();
      this.events.endOfRib?.(this, eor);
      return undefined;
    }
    const withdraw = error?.action === "treat-as-withdraw";
    const reaches = m.nlri.length > 0 || (m.attributes.mpReach?.nlri.length ?? 0) > 0;
    const attrs =
      reaches && !withdraw
        ? this.attrTable.intern(`${n.rx.asn4 ? 4 : 2}${n.rx.ebgp ? "e" : "i"}${attributeKey(frame)}`, () => {
            const a = inboundAttributes(m.attributes, n.rx.asn4);
            return a.mpReach ? { ...a, mpReach: { ...a.mpReach, nlri: [] } } : a;
          })
        : undefined;
    this.emit(this.rib.apply(m, attrs, withdraw));
    const max = this.options.maxPrefixes;
    if (max !== undefined) {
      for (const family of n.families) {
        if (this.rib.count(family) > max) {
          // RFC 4486 §4: data is AFI (2), SAFI (1), the limit (4).
          const data = Buffer.alloc(7);
          data.writeUInt16BE(AFI[family], 0);
          data[2] = 1;
          data.writeUInt32BE(max, 3);
          // The session resets once the driver is done with this message, not from inside it.
          const reason = `more than ${max} ${family} prefixes`;
          return sessionReset(ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED, reason, data);
        }
      }
    }
    return undefined;
  }

  established(n: Negotiated): void {
    this.clearGr();
    // RFC 4724 §4.2: families the peer no longer keeps forwarding state for lose their stale routes now.
    for (const family of [...this.restarting]) {
      const kept = n.gracefulRestart?.families.find((f) => f.family === family)?.forwarding;
      if (!kept) {
        this.restarting.delete(family);
        this.emit(this.rib.sweep(family));
      }
    }
    if (this.restarting.size) this.armGr(this.options.staleTime ?? 360);
    this.events.established?.(this, n);
  }

  down(reason: string, gr?: GracefulRestartInfo): void {
    const families = gr ? gr.families.map((f) => f.family) : [];
    for (const family of ["ipv4", "ipv6"] as Family[]) {
      if (families.includes(family)) {
        this.rib.markStale(family);
        this.restarting.add(family);
      } else {
        this.restarting.delete(family);
        this.emit(this.rib.clear(family));
      }
    }
    if (this.restarting.size && gr) {
      this.armGr(Math.min(gr.restartTime, this.options.maxRestartTime ?? Number.POSITIVE_INFINITY));
    }
    this.events.down?.(this, reason, this.restarting.size > 0);
  }

  routeRefresh(afi: number, safi: number, subtype: number): void {
    const family = familyOf(afi, safi);
    if (!family) return;
    // RFC 7313 §4: BoRR marks the family stale, EoRR removes what was not re-sent.
    if (subtype === 1) this.rib.markStale(family);
    else if (subtype === 2) this.emit(this.rib.sweep(family));
    else this.events.routeRefresh?.(this, family);
  }

  private armGr(seconds: number): void {
    this.clearGr();
    this.grTimer = setTimeout(() => {
      this.grTimer = undefined;
      for (const family of this.restarting) this.emit(this.rib.sweep(family));
      this.restarting.clear();
    }, seconds * 1000);
    this.grTimer.unref?.();
  }

  private clearGr(): void {
    if (this.grTimer) clearTimeout(this.grTimer);
    this.grTimer = undefined;
  }
}
