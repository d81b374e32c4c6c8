// One configured peer above its session: its configuration, its Adj-RIB-In, and the rules that
// join them: RFC 7606 outcomes, graceful restart in the receiving-speaker role (RFC 4724 §4.2)
// and its long-lived extension (RFC 9494 §4.2), enhanced route refresh (RFC 7313), maximum
// prefixes (RFC 4486 §4). Pure: time comes in as `now`, and the one deadline it has (stale
// routes of a restart) goes out as data.
import {
  AFI,
  Afi,
  type BgpError,
  CeaseSubcode,
  decodeMessage,
  ErrorCode,
  type Family,
  familyOf,
  type Nlri,
  type PrefixKey,
  prefixKey,
  scanUpdate,
  sessionReset,
  type UpdateMessage,
  type UpdateScan,
  WellKnownCommunity,
} from "../bgp/index.js";
import type { PeerFilters } from "../datastore/peerings.js";
import type { FsmStateName, GracefulRestartInfo, Negotiated, PeerConfig } from "../fsm/index.js";
import {
  AdjRibIn,
  type AttrSet,
  type AttrTable,
  addressKey,
  type PeerRef,
  type RibSink,
} from "../rib/index.js";
import type { Member } from "./groups.js";
import { applyOperations, chainKey, FilterChain } from "./policy.js";
import { inboundAttributes, type Role, type Self } from "./rules.js";

/**
 * Everything about one peering, settled once (by the reconciler, from the datastore): the session
 * (PeerConfig, with our AS and router ID towards the peer) and what the reflector does with it.
 */
export interface NeighborConfig extends PeerConfig {
  /** eBGP (the peer's AS is not ours towards it), or an iBGP route-reflector client or non-client */
  role: Role;
  /** RFC 4456 §7: the cluster ID towards this peer */
  clusterId: string;
  /** advertise this address as NEXT_HOP to the peer */
  nextHopSelf?: string;
  /** RFC 4271 §9.1.2: how many times our AS may be in the AS_PATH of its routes (default 0) */
  allowLocalAs?: number;
  /** with ADD-PATH send: at most this many paths per prefix (default: all) */
  addPathMax?: number;
  /** RFC 4486 §4: reset the session above this many prefixes per family */
  maxPrefixes?: number;
  /** upper bound on how long a restarting peer's routes are kept, seconds (Calico's maxRestartTime) */
  maxRestartTime?: number;
  /** RFC 9494: upper bound on the peer's long-lived stale time, seconds (default 3600, as BIRD) */
  maxLongLivedStaleTime?: number;
  /** how long stale routes wait for End-of-RIB once the peer is back, seconds */
  staleTime?: number;
  /** BGPFilter rules for what it sends us (import) and what we send it (export) */
  filters?: PeerFilters;
}

/** What an UPDATE did besides its routes: an error for the session to act on (RFC 7606, RFC 4486). */
export interface Received {
  /** the End-of-RIB marker of this family */
  endOfRib?: Family;
  error?: BgpError;
}

const NOTHING: Received = Object.freeze({});

/** RFC 4724 §4.2's selection of how long stale routes wait once the peer is back (seconds). */
const STALE_TIME = 360;

const { LLGR_STALE, NO_LLGR } = WellKnownCommunity;

/** BIRD's default `long lived stale time`: at most this long (seconds) whatever the peer asks. */
const MAX_LONG_LIVED_STALE_TIME = 3600;

/** A family's stale routes after the session went down: in the restart time (GR) or after it (LLGR), until when. */
interface Staleness {
  phase: "gr" | "llgr";
  until: number;
}

export class Neighbor {
  readonly rib: AdjRibIn;
  /** what the decision process knows of the peer */
  readonly ref: PeerRef;
  /** who we are to it: loop detection, outbound attributes */
  readonly self: Self;
  /** the session's state, as the session reported it */
  state: FsmStateName = "Idle";
  /** what the session negotiated, while Established */
  negotiated: Negotiated | undefined;
  /** its place in an update group, while Established */
  member: Member | undefined;
  /** a TCP connection with it came up since we started: a speaker is there, even if it refuses us now */
  answered = false;
  /** when its session last came up (ms) */
  upAt = 0;
  updatesIn = 0;
  /** End-of-RIB markers received, per family, in this and earlier sessions */
  readonly endOfRib: Record<Family, number> = { ipv4: 0, ipv6: 0 };
  /** End-of-RIB counts when the session came up: End-of-RIB arrived when they grow */
  eorAtUp: Record<Family, number> = { ipv4: 0, ipv6: 0 };
  /** families whose routes are stale after a restart, waiting for End-of-RIB */
  private readonly restarting = new Map<Family, Staleness>();
  /** RFC 9494: the families the session that went down kept long-lived, and for how long */
  private longLived: GracefulRestartInfo["longLived"] = [];
  /** its BGPFilter rules: they change without a new session (setFilters) */
  filters: PeerFilters | undefined;
  private importChain: FilterChain | undefined;
  private importKey = "";

  constructor(
    readonly config: NeighborConfig,
    /** shared with the other peers, so equal attribute blocks are stored once */
    readonly attrTable: AttrTable,
  ) {
    this.rib = new AdjRibIn(attrTable);
    this.ref = {
      address: config.peerAddress,
      addressKey: addressKey(config.peerAddress),
      routerId: "0.0.0.0",
      ebgp: config.role === "ebgp",
      role: config.role,
    };
    this.self = {
      clusterId: config.clusterId,
      routerId: config.routerId,
      localAs: config.localAs,
      ...(config.allowLocalAs ? { allowLocalAs: config.allowLocalAs } : {}),
    };
    this.setFilters(config.filters);
  }

  /** New BGPFilter rules; whether the import rules changed (the Adj-RIB-In is then to be imported again). */
  setFilters(filters: PeerFilters | undefined): boolean {
    const key = chainKey(filters?.import);
    const changed = key !== this.importKey;
    this.filters = filters;
    this.importKey = key;
    this.importChain = key ? new FilterChain(filters?.import ?? []) : undefined;
    return changed;
  }

  /**
   * A route as the decision process takes it, after the import rules: its attribute set, the one
   * an Accept rule's operations make of it, or undefined when a rule rejects it.
   */
  imported(key: PrefixKey, attrs: AttrSet): AttrSet | undefined {
    const chain = this.importChain;
    if (!chain) return attrs;
    const v = chain.decide({
      prefix: key,
      attributes: attrs.attributes,
      internal: this.config.role !== "ebgp",
    });
    if (!v.accept) return undefined;
    const ops = chain.operations(v.rule);
    if (!ops.length) return attrs;
    return this.attrTable.derive(attrs, `${this.importKey}#${v.rule}`, () =>
      applyOperations(attrs.attributes, ops),
    );
  }

  get address(): string {
    return this.config.peerAddress;
  }

  /**
   * An UPDATE into the Adj-RIB-In, its routes to `sink`. A message whose attributes were seen
   * before (and found well formed) is not decoded: its prefixes are read from its octets as keys.
   * The decoder judges the rest (RFC 7606), once per new attribute block.
   */
  update(frame: Buffer, sink: RibSink): Received {
    this.updatesIn++;
    const n = this.negotiated;
    if (!n) return NOTHING;
    const body = frame.subarray(19);
    const scan = scanUpdate(body, n.rx.addPath);
    if (scan) {
      // The key names what the checks of the attributes depend on besides their octets: the
      // AS number size, the peer's AS (RFC 6793; first-AS check) and whether the UPDATE has
      // IPv4 NLRI (NEXT_HOP is mandatory then, RFC 4760 §3).
      const key = `${n.rx.asn4 ? 4 : 2}${n.rx.ebgp ? `e${n.rx.peerAs}` : "i"}${scan.nlriField ? "n" : ""}${scan.key}`;
      const known = scan.reach.length > 0 ? this.attrTable.find(key) : undefined;
      if (known || (scan.reach.length === 0 && !scan.attributes)) {
        this.apply(body, scan, known, sink);
        return this.checkMaximum();
      }
      return this.decoded(frame, sink, scan, key);
    }
    return this.decoded(frame, sink, undefined, "");
  }

  /** The routes of a located UPDATE: withdrawn, then announced with `attrs` (withdrawn without). */
  private apply(body: Buffer, scan: UpdateScan, attrs: AttrSet | undefined, sink: RibSink): void {
    const rx = this.negotiated!.rx.addPath;
    for (const r of scan.withdrawn)
      this.rib.nlri(body, r.start, r.end, r.afi, r.afi === Afi.IPV4 ? rx.ipv4 : rx.ipv6, undefined, sink);
    for (const r of scan.reach)
      this.rib.nlri(body, r.start, r.end, r.afi, r.afi === Afi.IPV4 ? rx.ipv4 : rx.ipv6, attrs, sink);
  }

  /** An UPDATE through the decoder: what it finds wrong decides (RFC 7606), and new attributes are interned. */
  private decoded(frame: Buffer, sink: RibSink, scan: UpdateScan | undefined, key: string): Received {
    const n = this.negotiated!;
    const { message, error } = decodeMessage(frame, n.rx);
    if (error?.action === "session-reset" || error?.action === "afi-safi-disable") return { error };
    const m = message as UpdateMessage;
    const eor = m.endOfRib && familyOf(m.endOfRib.afi, m.endOfRib.safi);
    if (eor) {
      this.endOfRib[eor]++;
      if (this.restarting.delete(eor)) this.rib.sweep(eor, sink);
      return { endOfRib: eor };
    }
    const withdraw = error?.action === "treat-as-withdraw";
    const reaches = m.nlri.length > 0 || (m.attributes.mpReach?.nlri.length ?? 0) > 0;
    // A block the decoder found fault with (RFC 7606 attribute discard) is kept apart from the
    // clean ones the scan looks up: each UPDATE that carries it is judged, and reported, again.
    const attrs =
      reaches && !withdraw && scan
        ? this.attrTable.intern(error ? `!${key}` : key, () => {
            const a = inboundAttributes(m.attributes, n.rx.asn4);
            return a.mpReach ? { ...a, mpReach: { ...a.mpReach, nlri: [] } } : a;
          })
        : undefined;
    if (scan) this.apply(frame.subarray(19), scan, attrs, sink);
    else this.applyDecoded(m, sink);
    const max = this.checkMaximum();
    return error && !max.error ? { error } : max;
  }

  /**
   * The routes of an UPDATE the scan could not locate (an attribute framing error, RFC 7606 §4:
   * treat-as-withdraw): what the decoder read of it is withdrawn.
   */
  private applyDecoded(m: UpdateMessage, sink: RibSink): void {
    const { mpReach, mpUnreach } = m.attributes;
    const withdraw = (family: Family, list: readonly Nlri[]) => {
      for (const x of list) {
        const [prefix, pathId] = typeof x === "string" ? [x, 0] : [x.prefix, x.pathId];
        this.rib.withdraw(prefixKey(family, prefix, pathId), sink);
      }
    };
    withdraw("ipv4", m.withdrawn);
    withdraw("ipv4", m.nlri);
    for (const mp of [mpUnreach && { ...mpUnreach, nlri: mpUnreach.withdrawn }, mpReach]) {
      const family = mp && familyOf(mp.afi, mp.safi);
      if (family) withdraw(family, mp.nlri);
    }
  }

  /** RFC 4486 §4: more prefixes of a family than allowed reset the session. */
  private checkMaximum(): Received {
    const max = this.config.maxPrefixes;
    if (max === undefined) return NOTHING;
    for (const family of this.negotiated!.families) {
      if (this.rib.count(family) <= max) continue;
      // RFC 4486 §4: data is AFI (2), SAFI (1), the limit (4).
      const data = Buffer.alloc(7);
      data.writeUInt16BE(AFI[family], 0);
      data[2] = 1;
      data.writeUInt32BE(max, 3);
      const reason = `more than ${max} ${family} prefixes`;
      return { error: sessionReset(ErrorCode.CEASE, CeaseSubcode.MAXIMUM_PREFIXES_REACHED, reason, data) };
    }
    return NOTHING;
  }

  /** The session came up; families the peer no longer keeps forwarding state for lose their stale routes. */
  up(n: Negotiated, now: number, sink: RibSink): void {
    this.negotiated = n;
    this.state = "Established";
    this.ref.routerId = n.peerId;
    this.upAt = now;
    this.eorAtUp = { ...this.endOfRib };
    // RFC 4724 §4.2, RFC 9494 §4.2: without forwarding state kept, the family's stale routes go
    const gr = n.gracefulRestart;
    for (const [family, s] of [...this.restarting]) {
      const caps = s.phase === "gr" ? gr?.families : gr?.longLived;
      if (!caps?.find((f) => f.family === family)?.forwarding) {
        this.restarting.delete(family);
        this.rib.sweep(family, sink);
      }
    }
    const until = now + (this.config.staleTime ?? STALE_TIME) * 1000;
    for (const s of this.restarting.values()) s.until = until;
  }

  /**
   * The session went down: with graceful restart, the routes of its families are kept as stale
   * for the restart time, then (RFC 9494) for the long-lived stale time where the peer offered it.
   */
  down(gr: GracefulRestartInfo | undefined, now: number, sink: RibSink): void {
    this.negotiated = undefined;
    const max = this.config.maxLongLivedStaleTime ?? MAX_LONG_LIVED_STALE_TIME;
    this.longLived =
      gr?.longLived
        .filter((f) => f.staleTime > 0)
        .map((f) => ({ ...f, staleTime: Math.min(f.staleTime, max) })) ?? [];
    const restartTime = Math.min(
      gr?.restartTime ?? 0,
      this.config.maxRestartTime ?? Number.POSITIVE_INFINITY,
    );
    for (const family of ["ipv4", "ipv6"] as Family[]) {
      const inGr = gr?.families.some((f) => f.family === family) ?? false;
      const inLlgr = this.longLived.some((f) => f.family === family);
      if (!inGr && !inLlgr) {
        this.restarting.delete(family);
        this.rib.clear(family, sink);
        continue;
      }
      this.rib.markStale(family);
      this.restarting.set(family, { phase: "gr", until: now + restartTime * 1000 });
      // RFC 9494 §4.2: no restart time for the family (or no GR for it): long-lived at once
      if (inLlgr && (!inGr || restartTime === 0)) this.toLongLived(family, now, sink);
    }
  }

  /** RFC 9494 §4.2: the family's stale routes are kept long-lived, marked LLGR_STALE; NO_LLGR ones go. */
  private toLongLived(family: Family, now: number, sink: RibSink): void {
    const staleTime = this.longLived.find((f) => f.family === family)?.staleTime ?? 0;
    this.restarting.set(family, { phase: "llgr", until: now + staleTime * 1000 });
    this.rib.longLived(
      family,
      (attrs) => {
        const communities = attrs.attributes.communities ?? [];
        if (communities.includes(NO_LLGR)) return undefined;
        if (communities.includes(LLGR_STALE)) return attrs;
        return this.attrTable.derive(attrs, "llgr", () => ({
          ...attrs.attributes,
          communities: [...communities, LLGR_STALE],
        }));
      },
      sink,
    );
  }

  /** When the stale routes still kept go (ms), while some are: the earliest family's time. */
  get staleUntil(): number | undefined {
    let until: number | undefined;
    for (const s of this.restarting.values()) if (until === undefined || s.until < until) until = s.until;
    return until;
  }

  /** Whether it is restarting: some of its routes are kept as stale. */
  get keptStale(): boolean {
    return this.restarting.size > 0;
  }

  /**
   * The stale routes whose time is up: at the end of the restart time they become long-lived
   * stale where the peer offered it (RFC 9494 §4.2), otherwise they go.
   */
  expire(now: number, sink: RibSink): void {
    if (this.staleUntil === undefined || now < this.staleUntil) return;
    for (const [family, s] of [...this.restarting]) {
      if (now < s.until) continue;
      // still down, restart time over: long-lived, if offered
      if (s.phase === "gr" && !this.negotiated && this.longLived.some((f) => f.family === family)) {
        this.toLongLived(family, now, sink);
        continue;
      }
      this.rib.sweep(family, sink);
      this.restarting.delete(family);
    }
  }

  /** RFC 7313 §4: BoRR marks the family stale, EoRR removes what was not sent again. */
  refreshMarker(family: Family, subtype: number, sink: RibSink): void {
    if (subtype === 1) this.rib.markStale(family);
    else if (subtype === 2) this.rib.sweep(family, sink);
  }

  /** The peer is removed: all its routes go. */
  clear(sink: RibSink): void {
    this.restarting.clear();
    this.negotiated = undefined;
    this.rib.clear(undefined, sink);
  }
}
