// The session layer's data: configuration, what an OPEN exchange negotiated, and the state the
// RFC 4271 §8 machine keeps. Times in the state are absolute milliseconds from the `now` the
// caller passes in; durations in configuration are seconds, as BGP configures them.
import type {
  BgpError,
  BgpMessage,
  Capability,
  CodecContext,
  Family,
  NotificationMessage,
  OpenMessage,
} from "../bgp/index.js";

export type FsmStateName = "Idle" | "Connect" | "Active" | "OpenSent" | "OpenConfirm" | "Established";

export interface SessionConfig {
  localAs: number;
  /** our BGP Identifier */
  routerId: string;
  peerAs: number;
  /** proposed Hold Time: 0, or 3 and more (RFC 4271 §4.2) */
  holdTime: number;
  connectRetryTime: number;
  /**
   * while our connects keep failing (refused, or not answered within ConnectRetry), the wait
   * doubles from connectRetryTime up to this; a connection that comes up starts it over.
   * Unset: always connectRetryTime.
   */
  maxConnectRetryTime?: number;
  /** never connect out; wait for the peer */
  passive: boolean;
  /** damping of flapping peers: first IdleHold wait after a failure, doubled per failure up to the max */
  idleHoldTime: number;
  maxIdleHoldTime: number;
  families: Family[];
  /** RFC 7911: what we offer per family */
  addPath?: Partial<Record<Family, "receive" | "send" | "both">>;
  /**
   * RFC 4724 graceful restart, announced with this restart time for each family. `restarting`:
   * the Restart State bit, set while we are coming back from our own restart (selection
   * deferral); `notification`: the RFC 8538 N bit. `longLivedStaleTime` (RFC 9494, seconds):
   * announce long-lived graceful restart with this stale time for each family (0: we know LLGR,
   * and ask for no long-lived retention of our own routes).
   */
  gracefulRestart?: {
    restartTime: number;
    notification?: boolean;
    restarting?: boolean;
    longLivedStaleTime?: number;
  };
  extendedMessage?: boolean;
  /**
   * RFC 9687 SendHoldTime, seconds. Default: 8 minutes, or twice the negotiated Hold Time when that
   * is longer (FRR uses twice the Hold Time); none when the Hold Time is 0, as in FRR.
   */
  sendHoldTime?: number;
  /** capability codes without which we refuse the session (2/7 Unsupported Capability) */
  requiredCapabilities?: number[];
}

export interface GracefulRestartInfo {
  restartTime: number;
  /** families the peer keeps forwarding state for across a restart (F bit) */
  families: { family: Family; forwarding: boolean }[];
  /** RFC 8538: both sides set the N bit, so GR also covers NOTIFICATIONs (but Hard Reset) */
  notification: boolean;
  /** the peer's Restart State bit: it is restarting and will not wait for our End-of-RIB */
  restarting: boolean;
  /**
   * RFC 9494: the families the peer announced long-lived graceful restart for (when we did too),
   * with its F bit and its long-lived stale time (seconds)
   */
  longLived: { family: Family; forwarding: boolean; staleTime: number }[];
}

/** What the OPEN exchange settled, computed once (RFC 5492: announced, received, negotiated). */
export interface Negotiated {
  peerAs: number;
  peerId: string;
  holdTime: number;
  keepaliveTime: number;
  families: Family[];
  asn4: boolean;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  extendedMessage: boolean;
  addPathReceive: Family[];
  addPathSend: Family[];
  /** the peer's graceful restart capability, if it sent one */
  gracefulRestart?: GracefulRestartInfo;
  /** codec context for what the peer sends us, and for what we send */
  rx: CodecContext;
  tx: CodecContext;
  announced: Capability[];
  received: Capability[];
}

export interface FsmState {
  state: FsmStateName;
  connectRetryCounter: number;
  connectRetryAt?: number;
  /** the current ConnectRetry wait, seconds, while our connects fail (unset: connectRetryTime) */
  connectRetry?: number;
  holdAt?: number;
  keepaliveAt?: number;
  /** RFC 9687: when nothing we queued has reached the peer for this long, the session goes */
  sendHoldAt?: number;
  idleHoldAt?: number;
  /** current IdleHold wait, seconds */
  idleHold: number;
  establishedAt?: number;
  negotiated?: Negotiated;
  peerOpen?: OpenMessage;
  /** why the session last went down, for status output */
  lastError?: string;
}

export type FsmInput =
  /** ManualStart / AutomaticStart (RFC 4271 Events 1 and 3; passive: Events 4 and 5) */
  | { type: "Start" }
  /**
   * ManualStop (Event 2): a Cease, Administrative Shutdown unless told otherwise. `retain`: a
   * planned restart of ours, after which the peer is to keep our routes (RFC 4724, RFC 8538);
   * otherwise the peer is to drop them (with the N bit, a Hard Reset).
   */
  | { type: "Stop"; notification?: NotificationMessage; retain?: boolean }
  /** a connection from the peer while we wait out IdleHold: accepted (see machine.ts) */
  | { type: "Incoming" }
  /** a local reason to reset the session (maximum prefixes, a disabled family): damped */
  | { type: "Close"; notification: NotificationMessage; reason: string }
  /** TcpConnectionConfirmed / Tcp_CR_Acked (Events 16, 17) */
  | { type: "TcpUp" }
  /** TcpConnectionFails (Event 18) */
  | { type: "TcpFailed" }
  /** a whole message arrived from the peer (it may wait to be handled): the hold timer is restarted */
  | { type: "Received" }
  | { type: "Message"; message: Exclude<BgpMessage, { type: "UPDATE" }> }
  /** UpdateMsg (Event 27); the body goes to the RIB without passing through the machine */
  | { type: "Update" }
  /** a message that resets the session (Events 21, 22, 28) */
  | { type: "Error"; error: BgpError }
  /** what we queued reached the kernel, or nothing is queued: the send hold timer is restarted (RFC 9687) */
  | { type: "Sent" }
  /** time passed: expired timers fire (Events 9, 10, 11, 13) */
  | { type: "Tick" };

export type FsmAction =
  | { type: "Connect" }
  | { type: "Send"; message: Exclude<BgpMessage, { type: "UPDATE" }> }
  | { type: "Disconnect" }
  | { type: "Established"; negotiated: Negotiated }
  /** the session left Established; with gracefulRestart, the peer's routes are kept as stale */
  | { type: "Down"; reason: string; gracefulRestart?: GracefulRestartInfo }
  | { type: "RouteRefresh"; afi: number; safi: number; subtype: number };
