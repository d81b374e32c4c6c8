// The settings a peer gets when its configuration says nothing else. Timers in seconds.

import type { Family } from "../bgp/index.js";
import type { PeerConfig } from "../fsm/index.js";
import type { NeighborConfig } from "./neighbor.js";

export const PEER_DEFAULTS = {
  /** RFC 4271 §10 suggests 90 s */
  holdTime: 90,
  connectRetryTime: 5,
  /** while connects to a peer fail, ConnectRetry doubles up to this (RFC 4271 §10's suggestion) */
  maxConnectRetryTime: 120,
  passive: false,
  /** first IdleHold wait after a failure; doubled per failure up to the maximum */
  idleHoldTime: 1,
  maxIdleHoldTime: 60,
  families: ["ipv4", "ipv6"] as Family[],
  peerPort: 179,
  /**
   * RFC 8654 extended messages: with a peer that announces them too, UPDATEs up to 65,535 octets,
   * so a route that grew on reflection (ORIGINATOR_ID, CLUSTER_LIST, 4-octet AS_PATH) still fits
   */
  extendedMessage: true,
  /**
   * RFC 4724 graceful restart (both roles) with this restart time, and RFC 8538: with the N bit a
   * NOTIFICATION other than Hard Reset is a restart too, so a planned restart can say why.
   * RFC 9494 long-lived graceful restart announced with stale time 0: we keep a peer's routes
   * long-lived as it asks (at most an hour), and ask peers to keep ours no longer than graceful
   * restart does.
   */
  gracefulRestart: { restartTime: 120, notification: true, longLivedStaleTime: 0 } as NonNullable<
    PeerConfig["gracefulRestart"]
  >,
};

/**
 * A route-reflector client of ours with the defaults, for tests, benchmarks and tools: the
 * daemon's peers are built by the reconciler (neighborConfig) from the datastore's peerings.
 */
export function clientOf(self: {
  routerId: string;
  localAs: number;
  clusterId?: string;
}): Omit<NeighborConfig, "peerAddress"> {
  return {
    ...PEER_DEFAULTS,
    peerAs: self.localAs,
    localAs: self.localAs,
    routerId: self.routerId,
    role: "client",
    clusterId: self.clusterId ?? self.routerId,
  };
}
