// What the control API serves: the reflector's state as plain JSON, read when asked, never kept.

import { type Family, formatKey, withPathId } from "../bgp/index.js";
import type { Daemon } from "../daemon/index.js";
import type { PeerSpec, PeerType } from "../datastore/index.js";
import { candidateOf, type Dest, explain } from "../rib/index.js";

export interface PeerStatus {
  address: string;
  port: number;
  name: string;
  type: PeerType;
  peerAs: number;
  localAs: number;
  rrClient: boolean;
  from: string;
  state: string;
  since: string | null;
  info: string;
  prefixesReceived: Record<Family, number>;
  prefixesAdvertised: Record<Family, number>;
  /** prefixes not sent to the peer: their route is too large for one UPDATE to it */
  prefixesLeftOut: Record<Family, number>;
  updatesReceived: number;
  bytesReceived: number;
  bytesSent: number;
}

export interface Status {
  mode: string | null;
  node: string | null;
  routerId: string | null;
  localAs: number | null;
  clusterId: string | null;
  listenPort: number | null;
  datastore: { type: string; synced: boolean; lastChange: string | null };
  ready: boolean;
  startedAt: string;
  warnings: string[];
  peers: PeerStatus[];
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** One peering's line of `status`. */
function peerStatus(d: Daemon, spec: PeerSpec): PeerStatus {
  const reflector = d.reflector;
  const peer = reflector?.peer(spec.address);
  const session = peer?.session;
  const state = session?.state ?? "Idle";
  const error = session?.lastError;
  return {
    address: spec.address,
    port: spec.port,
    name: spec.name,
    type: spec.type,
    peerAs: spec.peerAs,
    localAs: spec.localAs,
    rrClient: spec.rrClient,
    from: spec.from,
    state,
    since: iso(d.since.get(spec.address)),
    info: state === "Established" || !error ? state : `${state}: ${error}`,
    prefixesReceived: { ipv4: peer?.rib.count("ipv4") ?? 0, ipv6: peer?.rib.count("ipv6") ?? 0 },
    prefixesAdvertised: reflector?.advertised(spec.address) ?? { ipv4: 0, ipv6: 0 },
    prefixesLeftOut: reflector?.leftOut(spec.address) ?? { ipv4: 0, ipv6: 0 },
    updatesReceived: peer?.updatesIn ?? 0,
    bytesReceived: session?.bytesIn ?? 0,
    bytesSent: session?.bytesOut ?? 0,
  };
}

/** One peer in full (`status PEER`): what the session negotiated, its counters and what it is sent. */
export interface PeerDetail extends PeerStatus {
  lastError: string | null;
  /** the BGPFilters of its peering */
  filters: string[];
  negotiated: {
    peerId: string;
    holdTime: number;
    keepaliveTime: number;
    families: Family[];
    fourOctetAs: boolean;
    routeRefresh: boolean;
    enhancedRouteRefresh: boolean;
    extendedMessage: boolean;
    addPathReceive: Family[];
    addPathSend: Family[];
    gracefulRestart: { restartTime: number; families: Family[]; notification: boolean } | null;
    longLivedGracefulRestart: { family: Family; staleTime: number }[];
    /** the capabilities it announced, by name */
    capabilities: string[];
  } | null;
  flaps: number;
  notifications: { direction: string; code: number; subcode: number; count: number }[];
  /** the prefixes it is sent, the first `limit` */
  advertised: string[];
}

export function peerDetail(d: Daemon, address: string, limit = 1000): PeerDetail | undefined {
  const spec = d.reconciler?.specs.get(address);
  if (!spec) return undefined;
  const summary = peerStatus(d, spec);
  const peer = d.reflector?.peer(address);
  const n = peer?.session.negotiated;
  const gr = n?.gracefulRestart;
  const notifications = [...d.notifications.values()]
    .filter((n) => n.peer === address)
    .map(({ direction, code, subcode, count }) => ({ direction, code, subcode, count }));
  return {
    ...summary,
    lastError: peer?.session.lastError ?? null,
    filters: spec.filters?.names ?? [],
    negotiated: n
      ? {
          peerId: n.peerId,
          holdTime: n.holdTime,
          keepaliveTime: n.keepaliveTime,
          families: n.families,
          fourOctetAs: n.asn4,
          routeRefresh: n.routeRefresh,
          enhancedRouteRefresh: n.enhancedRouteRefresh,
          extendedMessage: n.extendedMessage,
          addPathReceive: n.addPathReceive,
          addPathSend: n.addPathSend,
          gracefulRestart: gr
            ? {
                restartTime: gr.restartTime,
                families: gr.families.map((f) => f.family),
                notification: gr.notification,
              }
            : null,
          longLivedGracefulRestart:
            gr?.longLived.map((f) => ({ family: f.family, staleTime: f.staleTime })) ?? [],
          capabilities: [...new Set(n.received.map((c) => c.name))],
        }
      : null,
    flaps: d.flaps.get(address) ?? 0,
    notifications,
    advertised: d.reflector?.advertisedPrefixes(address, limit) ?? [],
  };
}

export function status(d: Daemon): Status {
  const p = d.peerings;
  const reflector = d.reflector;
  const peers = [...(d.reconciler?.specs.values() ?? [])].map((spec) => peerStatus(d, spec));
  return {
    mode: p?.mode ?? null,
    node: p?.node ?? null,
    routerId: reflector?.config.routerId ?? null,
    localAs: reflector?.config.localAs ?? null,
    clusterId: reflector ? (reflector.config.clusterId ?? reflector.config.routerId) : null,
    listenPort: p?.listenPort ?? null,
    datastore: {
      type: d.config.datastoreType,
      synced: d.store.synced,
      lastChange: iso(d.store.lastChangeAt),
    },
    ready: d.ready,
    startedAt: new Date(d.startedAt).toISOString(),
    warnings: p?.warnings ?? [],
    peers,
  };
}

export interface RoutePath {
  peer: string;
  peerRouterId: string;
  pathId: number;
  best: boolean;
  /** for the paths that lost: the decision step that decided against them */
  lostAt?: string;
  /** kept from a session that went down (graceful restart, or long-lived), not sent again yet */
  stale: boolean;
  /** when it came with these attributes */
  learnedAt: string;
  attributes: unknown;
}

export interface RouteEntry {
  prefix: string;
  family: Family;
  paths: RoutePath[];
}

/**
 * The Loc-RIB, or one prefix of it, or the paths from one peer, one entry at a time: a caller
 * that takes them across turns of the event loop sees the table as it is when it gets there.
 */
export function* routes(d: Daemon, filter: { prefix?: string; peer?: string }): Generator<RouteEntry> {
  const rib = d.reflector?.rib;
  if (!rib) return;
  const family = filter.prefix?.includes(":") ? "ipv6" : "ipv4";
  // a prefix as it is held, or an address: the longest prefix that covers it
  const dests: Iterable<Dest> = filter.prefix
    ? [
        filter.prefix.includes("/") ? rib.get(family, filter.prefix) : rib.lookup(family, filter.prefix),
      ].filter((x) => x !== undefined)
    : rib.all();
  for (const dest of dests) {
    const paths = dest.paths.filter((p) => !filter.peer || p.peer.address === filter.peer);
    if (!paths.length) continue;
    yield {
      prefix: formatKey(dest.key),
      family: dest.family,
      paths: paths.map((p) => ({
        peer: p.peer.address,
        peerRouterId: p.peer.routerId,
        pathId: p.pathId,
        best: p === dest.best,
        ...(p === dest.best ? {} : { lostAt: explain(dest.paths, p, candidateOf) }),
        stale: d.reflector?.peer(p.peer.address)?.rib.isStale(withPathId(dest.key, p.pathId)) ?? false,
        learnedAt: new Date(rib.time(p.since)).toISOString(),
        attributes: p.attrs.attributes,
      })),
    };
  }
}
