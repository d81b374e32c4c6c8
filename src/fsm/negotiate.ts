// OPEN: what we announce, and what the peer's OPEN leaves us with (RFC 4271 §6.2, RFC 5492,
// RFC 4760, RFC 6793, RFC 7911, RFC 4724, RFC 8654, RFC 2918/7313).
import {
  AFI,
  AS_TRANS,
  BgpError,
  type Capability,
  CapabilityCode,
  ErrorCode,
  encodeCapability,
  type Family,
  familyOf,
  makeContext,
  type OpenMessage,
  OpenSubcode,
} from "../bgp/index.js";
import type { GracefulRestartInfo, Negotiated, SessionConfig } from "./types.js";

const ADD_PATH_MODE = { receive: 1, send: 2, both: 3 } as const;

export function localCapabilities(cfg: SessionConfig): Capability[] {
  const caps: Capability[] = cfg.families.map((f) => ({
    code: 1,
    name: "multiprotocol",
    afi: AFI[f],
    safi: 1,
  }));
  caps.push({ code: 2, name: "route-refresh" }, { code: 70, name: "enhanced-route-refresh" });
  caps.push({ code: 65, name: "four-octet-as", asn: cfg.localAs });
  if (cfg.gracefulRestart) {
    // RFC 4724 §3: each family with its Forwarding State bit set. A reflector is not in the
    // forwarding path: the routes it reflected name other nodes as next hops, and they stay valid
    // while it restarts, so its "forwarding state" is always preserved. Without the families a
    // client would have nothing to retain (§4.2), and with F clear it would drop our routes as
    // soon as we are back. R (§4.1: we are restarting; do not wait for our End-of-RIB) and the
    // RFC 8538 N bit are the restart flags.
    const gr = cfg.gracefulRestart;
    caps.push({
      code: 64,
      name: "graceful-restart",
      restartFlags: (gr.restarting ? 0x8 : 0) | (gr.notification ? 0x4 : 0),
      restartTime: gr.restartTime,
      families: cfg.families.map((f) => ({ afi: AFI[f], safi: 1, flags: 0x80 })),
    });
    // RFC 9494 §3: announced with the GR capability; the F bit as above
    if (gr.longLivedStaleTime !== undefined) {
      caps.push({
        code: 71,
        name: "long-lived-graceful-restart",
        families: cfg.families.map((f) => ({
          afi: AFI[f],
          safi: 1,
          flags: 0x80,
          staleTime: Math.min(gr.longLivedStaleTime ?? 0, 0xffffff),
        })),
      });
    }
  }
  const addPath = Object.entries(cfg.addPath ?? {}).filter(([f]) => cfg.families.includes(f as Family));
  if (addPath.length) {
    caps.push({
      code: 69,
      name: "add-path",
      families: addPath.map(([f, mode]) => ({
        afi: AFI[f as Family],
        safi: 1,
        sendReceive: ADD_PATH_MODE[mode!],
      })),
    });
  }
  if (cfg.extendedMessage) caps.push({ code: 6, name: "extended-message" });
  return caps;
}

export function buildOpen(cfg: SessionConfig): OpenMessage {
  return {
    type: "OPEN",
    version: 4,
    myAs: cfg.localAs > 0xffff ? AS_TRANS : cfg.localAs,
    holdTime: cfg.holdTime,
    bgpId: cfg.routerId,
    capabilities: localCapabilities(cfg),
  };
}

const openError = (subcode: number, reason: string, data?: Buffer) =>
  new BgpError({
    action: "session-reset",
    code: ErrorCode.OPEN_MESSAGE,
    subcode,
    reason,
    ...(data ? { data } : {}),
  });

function find<N extends Capability["name"]>(caps: Capability[], name: N): Extract<Capability, { name: N }>[] {
  return caps.filter((c) => c.name === name) as Extract<Capability, { name: N }>[];
}

/** Settles the session from the peer's OPEN, or says which NOTIFICATION answers it. */
export function negotiate(cfg: SessionConfig, open: OpenMessage): Negotiated | BgpError {
  const received = open.capabilities;
  const announced = localCapabilities(cfg);
  const as4 = find(received, "four-octet-as")[0];
  // RFC 6793 §4.1: a NEW speaker's AS is in the capability; My AS is then AS_TRANS if it is large.
  const peerAs = as4 ? as4.asn : open.myAs;
  if (peerAs !== cfg.peerAs) {
    const data = Buffer.alloc(2);
    data.writeUInt16BE(open.myAs);
    return openError(OpenSubcode.BAD_PEER_AS, `peer AS ${peerAs}, expected ${cfg.peerAs}`, data);
  }
  // RFC 6286 §2.2: on iBGP the identifiers must differ.
  if (peerAs === cfg.localAs && open.bgpId === cfg.routerId) {
    return openError(OpenSubcode.BAD_BGP_IDENTIFIER, `peer uses our BGP identifier ${open.bgpId}`);
  }
  for (const code of cfg.requiredCapabilities ?? []) {
    if (!received.some((c) => c.code === code)) {
      // RFC 5492 §5: the data carries the capability we require.
      const required = announced.find((c) => c.code === code);
      const data = required ? encodeCapability(required) : Buffer.from([code, 0]);
      return openError(OpenSubcode.UNSUPPORTED_CAPABILITY, `peer lacks required capability ${code}`, data);
    }
  }
  // RFC 4760 §8: no multiprotocol capability means IPv4 unicast only.
  const mp = find(received, "multiprotocol");
  const offered = mp.length ? mp.map((c) => familyOf(c.afi, c.safi)) : ["ipv4"];
  const families = cfg.families.filter((f) => offered.includes(f));
  // RFC 4271 §4.2: the smaller Hold Time; keepalives at a third of it.
  const holdTime = Math.min(cfg.holdTime, open.holdTime);
  const asn4 = as4 !== undefined;
  const { receive, send } = addPathModes(cfg, find(received, "add-path")[0], families);
  const extendedMessage = Boolean(cfg.extendedMessage) && find(received, "extended-message").length > 0;
  const ebgp = peerAs !== cfg.localAs;
  const ctx = (addPath: Family[]) =>
    makeContext({
      asn4,
      addPath: { ipv4: addPath.includes("ipv4"), ipv6: addPath.includes("ipv6") },
      extendedMessage,
      ebgp,
      peerAs,
    });
  const n: Negotiated = {
    peerAs,
    peerId: open.bgpId,
    holdTime,
    keepaliveTime: Math.floor(holdTime / 3),
    families,
    asn4,
    routeRefresh: received.some(
      (c) => c.code === CapabilityCode.ROUTE_REFRESH || c.code === CapabilityCode.ROUTE_REFRESH_CISCO,
    ),
    enhancedRouteRefresh: received.some((c) => c.code === CapabilityCode.ENHANCED_ROUTE_REFRESH),
    extendedMessage,
    addPathReceive: receive,
    addPathSend: send,
    rx: ctx(receive),
    tx: ctx(send),
    announced,
    received,
  };
  const gr = gracefulRestartOf(
    cfg,
    find(received, "graceful-restart")[0],
    find(received, "long-lived-graceful-restart")[0],
  );
  if (gr) n.gracefulRestart = gr;
  return n;
}

/** RFC 7911 §4: we receive paths where we offered receive and the peer offered send, and so on. */
function addPathModes(
  cfg: SessionConfig,
  peer: Extract<Capability, { name: "add-path" }> | undefined,
  families: Family[],
): { receive: Family[]; send: Family[] } {
  const receive: Family[] = [];
  const send: Family[] = [];
  for (const f of families) {
    const ours = cfg.addPath?.[f];
    const theirs = peer?.families.find((p) => familyOf(p.afi, p.safi) === f)?.sendReceive ?? 0;
    if ((ours === "receive" || ours === "both") && theirs & 2) receive.push(f);
    if ((ours === "send" || ours === "both") && theirs & 1) send.push(f);
  }
  return { receive, send };
}

function gracefulRestartOf(
  cfg: SessionConfig,
  peer: Extract<Capability, { name: "graceful-restart" }> | undefined,
  longLived: Extract<Capability, { name: "long-lived-graceful-restart" }> | undefined,
): GracefulRestartInfo | undefined {
  if (!cfg.gracefulRestart || !peer) return undefined;
  const families: GracefulRestartInfo["families"] = [];
  for (const f of peer.families) {
    const family = familyOf(f.afi, f.safi);
    if (family && cfg.families.includes(family))
      families.push({ family, forwarding: (f.flags & 0x80) !== 0 });
  }
  // RFC 9494 §3, §4.2: only with the GR capability, and only where we announced it too
  const llgr: GracefulRestartInfo["longLived"] = [];
  for (const f of longLived?.families ?? []) {
    const family = familyOf(f.afi, f.safi);
    if (cfg.gracefulRestart.longLivedStaleTime === undefined || !family || !cfg.families.includes(family))
      continue;
    llgr.push({ family, forwarding: (f.flags & 0x80) !== 0, staleTime: f.staleTime });
  }
  return {
    restartTime: peer.restartTime,
    families,
    notification: Boolean(cfg.gracefulRestart.notification) && (peer.restartFlags & 0x4) !== 0,
    restarting: (peer.restartFlags & 0x8) !== 0,
    longLived: llgr,
  };
}
