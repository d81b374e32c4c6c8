// Turns the desired peerings into sessions. Only sessions whose spec changed are touched: a new
// peer starts, a removed one gets Cease / Peer De-configured, a changed one (AS, password, address,
// timers...) is reset with Cease / Other Configuration Change; nothing else moves (RFC 4486 §4).

import type { Family } from "../bgp/index.js";
import { CeaseSubcode } from "../bgp/index.js";
import type { PeerSpec } from "../datastore/index.js";
import { PEER_DEFAULTS } from "./defaults.js";
import type { NeighborConfig } from "./neighbor.js";
import type { Reflector } from "./reflector.js";
import type { Role } from "./rules.js";

/** Where incoming connections arrive: the reconciler sets TCP MD5 keys on them. */
export interface KeyedListener {
  setMd5Key(peer: string, key: string): void;
}

export interface ReconcileResult {
  added: PeerSpec[];
  removed: PeerSpec[];
  /** reset with the new settings */
  changed: PeerSpec[];
  /** only their BGPFilter rules changed: applied to the running session */
  refiltered: PeerSpec[];
}

/** Who we are: the router ID, and the cluster ID unless a peering sets its own (the router ID when not set). */
export interface Identity {
  routerId: string;
  clusterId?: string;
  /** our IPv4 address: the next hop where next-hop-self applies and the peering sets no source address */
  ipv4?: string;
}

/** Everything about a peering, settled here once: nothing else translates a peering's settings. */
export function neighborConfig(spec: PeerSpec, self: Identity): NeighborConfig {
  const family: Family = spec.address.includes(":") ? "ipv6" : "ipv4";
  // RFC 4271 §1.1: external when the peer's AS is not ours towards it.
  const ebgp = spec.peerAs !== spec.localAs;
  const role: Role = ebgp ? "ebgp" : spec.rrClient ? "client" : "non-client";
  const routerId = self.routerId;
  // BIRD: next hop self towards eBGP peers unless told to keep it; iBGP keeps it unless told Self.
  const nextHopSelf = spec.nextHopMode === "Self" || (ebgp && spec.nextHopMode === "Auto");
  // RFC 7911: offered both ways, as calico/node's bgp_template (add paths on); the peer's
  // capability decides what each direction uses
  const addPaths = spec.addPaths ?? "off";
  return {
    ...PEER_DEFAULTS,
    families: [family],
    peerAddress: spec.address,
    peerPort: spec.port,
    peerAs: spec.peerAs,
    localAs: spec.localAs,
    routerId,
    role,
    clusterId: spec.clusterId ?? self.clusterId ?? routerId,
    passive: spec.passive,
    // BIRD's "graceful restart time": the restart time we announce, and how long we keep a
    // restarting peer's routes at most.
    gracefulRestart: {
      ...PEER_DEFAULTS.gracefulRestart,
      restartTime: spec.restartTime ?? PEER_DEFAULTS.gracefulRestart.restartTime,
    },
    ...(spec.restartTime !== undefined ? { maxRestartTime: spec.restartTime } : {}),
    ...(spec.sourceAddress ? { localAddress: spec.sourceAddress } : {}),
    ...(spec.password ? { password: spec.password } : {}),
    ...(spec.keepaliveTime ? { holdTime: spec.keepaliveTime * 3 } : {}),
    // RFC 5082 §3 (GTSM): send with TTL 255; accept only what left the peer at most
    // ttlSecurity hops away (BIRD's "ttl security on; multihop N")
    ...(spec.ttlSecurity ? { ttl: 255, minTtl: 256 - spec.ttlSecurity } : {}),
    ...(spec.maxPrefixes ? { maxPrefixes: spec.maxPrefixes } : {}),
    ...(spec.allowLocalAs ? { allowLocalAs: spec.allowLocalAs } : {}),
    ...(addPaths !== "off" ? { addPath: { [family]: "both" as const } } : {}),
    ...(typeof addPaths === "number" ? { addPathMax: addPaths } : {}),
    ...(spec.filters ? { filters: spec.filters } : {}),
    ...(nextHopSelf && family === "ipv4" ? { nextHopSelf: spec.sourceAddress ?? self.ipv4 ?? routerId } : {}),
    ...(nextHopSelf && family === "ipv6" && spec.sourceAddress ? { nextHopSelf: spec.sourceAddress } : {}),
  };
}

const same = (a: PeerSpec, b: PeerSpec): boolean => JSON.stringify(a) === JSON.stringify(b);
/** Equal but for the BGPFilter rules: those change without a new session. */
const sameSession = (a: PeerSpec, b: PeerSpec): boolean =>
  same({ ...a, filters: undefined }, { ...b, filters: undefined });

export class Reconciler {
  private readonly current = new Map<string, PeerSpec>();

  constructor(
    private readonly reflector: Reflector,
    /** the listener a peer's connections arrive on, for its TCP MD5 key */
    private readonly listenerFor: (address: string) => KeyedListener | undefined = () => undefined,
    /** our IPv4 address (the router ID is not one with CALICO_ROUTER_ID) */
    private readonly ipv4?: string,
  ) {}

  /** The peerings now running, by address. */
  get specs(): ReadonlyMap<string, PeerSpec> {
    return this.current;
  }

  apply(desired: readonly PeerSpec[]): ReconcileResult {
    const result: ReconcileResult = { added: [], removed: [], changed: [], refiltered: [] };
    const next = new Map(desired.map((s) => [s.address, s]));
    for (const [address, spec] of this.current) {
      if (next.has(address)) continue;
      this.stop(spec, "peer removed from the configuration", CeaseSubcode.PEER_DECONFIGURED);
      result.removed.push(spec);
    }
    for (const [address, spec] of next) {
      const old = this.current.get(address);
      if (old && same(old, spec)) continue;
      if (old && sameSession(old, spec)) {
        this.reflector.setFilters(address, spec.filters);
        this.current.set(address, spec);
        result.refiltered.push(spec);
        continue;
      }
      if (old) {
        this.stop(old, "peer configuration changed", CeaseSubcode.OTHER_CONFIGURATION_CHANGE);
        result.changed.push(spec);
      } else {
        result.added.push(spec);
      }
      this.start(spec);
    }
    return result;
  }

  /**
   * Every session ends with this message (shutdown). `retain`: a planned restart, after which
   * graceful-restart clients keep our routes until we are back; otherwise they drop them.
   */
  stopAll(message: string, retain = false): void {
    this.reflector.stop(message, retain);
    for (const spec of [...this.current.values()]) this.forget(spec);
  }

  private start(spec: PeerSpec): void {
    if (spec.password) this.listenerFor(spec.address)?.setMd5Key(spec.address, spec.password);
    const { routerId, clusterId } = this.reflector.config;
    this.reflector.addPeer(
      neighborConfig(spec, {
        routerId,
        ...(clusterId ? { clusterId } : {}),
        ...(this.ipv4 ? { ipv4: this.ipv4 } : {}),
      }),
    );
    this.current.set(spec.address, spec);
  }

  private stop(spec: PeerSpec, message: string, subcode: number): void {
    this.reflector.removePeer(spec.address, message, subcode);
    this.forget(spec);
  }

  /** A peering that is gone: its TCP MD5 key off the listener, and no longer current. */
  private forget(spec: PeerSpec): void {
    if (spec.password) this.listenerFor(spec.address)?.setMd5Key(spec.address, "");
    this.current.delete(spec.address);
  }
}
