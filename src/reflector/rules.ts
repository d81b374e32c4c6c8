// RFC 4456 route reflection and the eBGP rules of RFC 4271, as small pure functions.
//
//   learned from \ sent to     client          non-client      eBGP
//   client                     yes (1)         yes             yes
//   non-client (iBGP)          yes             no              yes
//   eBGP                       yes             yes             yes
//   (1) unless client-to-client reflection is turned off (clients meshed among themselves).
import { AS_TRANS, type AsSegment, AttrFlag, type PathAttributes, reconcileAs4 } from "../bgp/index.js";

export type Role = "client" | "non-client" | "ebgp";

/** RFC 4456 §6: may a path learned over `from` be advertised over `to`? */
export function mayAdvertise(from: Role, to: Role, clientToClient = true): boolean {
  if (from === "non-client") return to !== "non-client";
  if (from === "client" && to === "client") return clientToClient;
  return true;
}

/** Who we are to a peer: for loop detection on what it sends, and the outbound rules of what we send it. */
export interface Self {
  clusterId: string;
  routerId: string;
  /** our AS towards the peer */
  localAs: number;
  /** how many times our AS may appear in an AS_PATH (Calico's numAllowedLocalASNumbers; default 0) */
  allowLocalAs?: number;
}

/**
 * A looped path is ineligible (treated as withdrawn), not a session error. RFC 4456 §8: our
 * cluster ID in its CLUSTER_LIST or our router ID as its ORIGINATOR_ID. RFC 4271 §9.1.2: our AS
 * in its AS_PATH, more often than `allowLocalAs` (BIRD's "allow local as", FRR's "allowas-in").
 */
export function isLooped(attrs: PathAttributes, self: Self): boolean {
  if (attrs.originatorId === self.routerId || attrs.clusterList?.includes(self.clusterId)) return true;
  let seen = 0;
  for (const s of attrs.asPath ?? []) for (const asn of s.asns) if (asn === self.localAs) seen++;
  return seen > (self.allowLocalAs ?? 0);
}

/** The path as the decision process and outbound rules see it: RFC 6793 reconciled for 2-octet peers. */
export function inboundAttributes(attrs: PathAttributes, asn4: boolean): PathAttributes {
  if (asn4 || (!attrs.as4Path && !attrs.as4Aggregator)) return attrs;
  const { as4Path, as4Aggregator, ...rest } = attrs;
  const r = reconcileAs4(attrs);
  return {
    ...rest,
    ...(r.asPath ? { asPath: r.asPath } : {}),
    ...(r.aggregator ? { aggregator: r.aggregator } : {}),
  };
}

export interface Sender {
  role: Role;
  /** the peer's BGP identifier: ORIGINATOR_ID for paths reflected from it */
  routerId: string;
}

export interface Receiver {
  role: Role;
  localAs: number;
  clusterId: string;
  asn4: boolean;
  /** advertise this address as NEXT_HOP (next-hop-self), instead of leaving the originator's */
  nextHopSelf?: string;
  /** it announced long-lived graceful restart (RFC 9494): it knows what LLGR_STALE means */
  llgrAware?: boolean;
}

/** The usual ORDER of attributes we send: MP_REACH first (RFC 7606 §5.1), then by type code. */
const ORDER: readonly (keyof PathAttributes)[] = [
  "mpReach",
  "mpUnreach",
  "origin",
  "asPath",
  "nextHop",
  "med",
  "localPref",
  "atomicAggregate",
  "aggregator",
  "communities",
  "originatorId",
  "clusterList",
  "extCommunities",
  "as4Path",
  "as4Aggregator",
  "ipv6ExtCommunities",
  "largeCommunities",
  "unknown",
];

/** RFC 4271 §9.1.1: a path without LOCAL_PREF gets this degree of preference. */
export const DEFAULT_LOCAL_PREF = 100;

/** The attributes of a path as advertised to a receiver (RFC 4271 §5, RFC 4456 §8). */
export function outboundAttributes(attrs: PathAttributes, from: Sender, to: Receiver): PathAttributes {
  const out: PathAttributes = { ...attrs };
  delete out.flags;
  delete out.as4Path;
  delete out.as4Aggregator;
  if (to.role === "ebgp") {
    // RFC 4271 §5.1.2: prepend our AS; §5.1.5, RFC 4456 §8: no LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST.
    out.asPath = prepend(attrs.asPath ?? [], [to.localAs]);
    delete out.localPref;
    delete out.originatorId;
    delete out.clusterList;
    // RFC 4271 §5.1.4: a MED from a neighbouring AS is not passed to other ASes.
    if (from.role === "ebgp") delete out.med;
  } else {
    // RFC 4271 §5.1.5: every UPDATE to an internal peer carries LOCAL_PREF (learned over eBGP, or
    // missing from an internal one: the degree of preference the decision process gave it).
    out.localPref = attrs.localPref ?? DEFAULT_LOCAL_PREF;
    if (from.role !== "ebgp") {
      // RFC 4456 §8: reflection keeps the first originator and prepends our cluster ID.
      out.originatorId = attrs.originatorId ?? from.routerId;
      out.clusterList = [to.clusterId, ...(attrs.clusterList ?? [])];
    }
  }
  if (to.nextHopSelf) setNextHop(out, to.nextHopSelf);
  // RFC 4271 §5: unknown transitive attributes go on with the Partial bit; non-transitive ones stop here.
  if (attrs.unknown) {
    const kept = attrs.unknown
      .filter((u) => u.flags & AttrFlag.TRANSITIVE)
      .map((u) => ({ ...u, flags: (u.flags | AttrFlag.PARTIAL) & ~AttrFlag.EXTENDED_LENGTH }));
    if (kept.length) out.unknown = kept;
    else delete out.unknown;
  }
  if (!to.asn4) as2Encoding(out);
  return ordered(out, attrs);
}

/** ASNs in front of an AS_PATH, in the order given: in its first AS_SEQUENCE while that has room (255 ASNs). */
export function prepend(path: AsSegment[], asns: readonly number[]): AsSegment[] {
  const [first, ...rest] = path;
  if (first?.type === "AS_SEQUENCE" && first.asns.length + asns.length <= 255) {
    return [{ type: "AS_SEQUENCE", asns: [...asns, ...first.asns] }, ...rest];
  }
  return [{ type: "AS_SEQUENCE", asns: [...asns] }, ...path];
}

function setNextHop(out: PathAttributes, nh: string): void {
  if (out.mpReach) {
    if (nh.includes(":")) out.mpReach = { ...out.mpReach, nextHop: [nh] };
  } else if (!nh.includes(":")) {
    out.nextHop = nh;
  }
}

/** RFC 6793 §4.2.2: to a 2-octet peer, large ASNs become AS_TRANS with the real path in AS4_PATH. */
function as2Encoding(out: PathAttributes): void {
  const big = (asn: number) => asn > 0xffff;
  if (out.asPath?.some((s) => s.asns.some(big))) {
    out.as4Path = out.asPath.filter((s) => s.type === "AS_SEQUENCE" || s.type === "AS_SET");
    out.asPath = out.asPath.map((s) => ({ type: s.type, asns: s.asns.map((a) => (big(a) ? AS_TRANS : a)) }));
  }
  if (out.aggregator && big(out.aggregator.asn)) {
    out.as4Aggregator = out.aggregator;
    out.aggregator = { asn: AS_TRANS, id: out.aggregator.id };
  }
}

/** Our usual order, keeping the Partial bit on known optional transitive attributes (RFC 4271 §5). */
function ordered(out: PathAttributes, received: PathAttributes): PathAttributes {
  const result: PathAttributes = {};
  for (const k of ORDER) if (out[k] !== undefined) (result as Record<string, unknown>)[k] = out[k];
  const partial = Object.entries(received.flags ?? {}).filter(
    ([k, f]) => f !== undefined && f & AttrFlag.PARTIAL && k in result,
  );
  if (partial.length) {
    result.flags = Object.fromEntries(partial.map(([k, f]) => [k, f! & ~AttrFlag.EXTENDED_LENGTH]));
  }
  return result;
}
