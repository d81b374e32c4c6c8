// Scripted peers of a Reflector: the peer's side of a connection the reflector accepted, driven
// message by message with a RawPeer.
import {
  type Capability,
  makeContext,
  type OpenMessage,
  type PathAttributes,
  type UpdateMessage,
} from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import type { Reflector } from "../../src/reflector/reflector.js";
import type { Role } from "../../src/reflector/rules.js";
import { waitFor } from "./lab.js";
import { RawPeer } from "./raw-peer.js";

/** A connection to the configured peer `address` over the in-memory transport. */
export function accepted(rr: Reflector, address: string): RawPeer {
  const [ours, theirs] = socketPair();
  const raw = new RawPeer(theirs);
  rr.peer(address)?.session.accept(ours);
  return raw;
}

/** Answers the reflector's OPEN with `open` and a KEEPALIVE; resolves once Established. */
export async function establish(
  rr: Reflector,
  address: string,
  raw: RawPeer,
  open: OpenMessage,
): Promise<RawPeer> {
  await raw.next("OPEN");
  raw.send(open);
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => rr.peer(address)?.session.state === "Established", 2000, `${address} Established`);
  return raw;
}

/** A client's OPEN: IPv4 and IPv6 unicast, route refresh, 4-octet AS, and `extra`. */
export function clientOpen(id: string, asn = 64512, extra: Capability[] = []): OpenMessage {
  return {
    type: "OPEN",
    version: 4,
    myAs: asn,
    holdTime: 90,
    bgpId: id,
    capabilities: [
      { code: 1, name: "multiprotocol", afi: 1, safi: 1 },
      { code: 1, name: "multiprotocol", afi: 2, safi: 1 },
      { code: 2, name: "route-refresh" },
      { code: 65, name: "four-octet-as", asn },
      ...extra,
    ],
  };
}

export interface JoinOptions {
  asn?: number;
  /** (default: a client) */
  role?: Role;
  addPath?: boolean;
  addPathMax?: number;
  /** RFC 8654: both sides announce extended messages */
  extendedMessage?: boolean;
  /** RFC 4724: the peer announces graceful restart for IPv4 and IPv6 */
  gracefulRestart?: boolean;
  /** the test configured the peer on the reflector itself (with settings of its own) */
  configured?: boolean;
}

/** A scripted peer configured on the reflector, connected over the in-memory transport, Established. */
export async function join(rr: Reflector, address: string, id: string, opts: JoinOptions = {}) {
  const asn = opts.asn ?? 64512;
  if (!opts.configured)
    rr.addPeer({
      ...clientOf(rr.config),
      passive: true,
      peerAddress: address,
      peerAs: asn,
      role: opts.role ?? "client",
      ...(opts.addPath ? { addPath: { ipv4: "send" as const } } : {}),
      ...(opts.addPathMax ? { addPathMax: opts.addPathMax } : {}),
    });
  const [ours, theirs] = socketPair();
  rr.peer(address)!.session.accept(ours);
  const raw = new RawPeer(
    theirs,
    makeContext({
      addPath: { ipv4: Boolean(opts.addPath), ipv6: false },
      extendedMessage: Boolean(opts.extendedMessage),
    }),
  );
  await raw.next("OPEN");
  const extra: Capability[] = [
    ...(opts.addPath
      ? [{ code: 69, name: "add-path", families: [{ afi: 1, safi: 1, sendReceive: 1 }] } as Capability]
      : []),
    ...(opts.extendedMessage ? [{ code: 6, name: "extended-message" } as Capability] : []),
    ...(opts.gracefulRestart
      ? [
          {
            code: 64,
            name: "graceful-restart",
            restartFlags: 0x4, // RFC 8538 N bit
            restartTime: 120,
            families: [
              { afi: 1, safi: 1, flags: 0 },
              { afi: 2, safi: 1, flags: 0 },
            ],
          } as Capability,
        ]
      : []),
  ];
  raw.send(clientOpen(id, asn, extra));
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => rr.peer(address)!.session.state === "Established", 2000, `${address} Established`);
  return raw;
}

export const updates = (p: RawPeer) => p.received.filter((m): m is UpdateMessage => m.type === "UPDATE");

/** The route a peer holds now for a prefix, replaying what it received in order. */
export function held(p: RawPeer, prefix: string): PathAttributes | undefined {
  let attrs: PathAttributes | undefined;
  for (const u of updates(p)) {
    const v6 = u.attributes.mpReach?.nlri ?? [];
    const gone = [...u.withdrawn, ...(u.attributes.mpUnreach?.withdrawn ?? [])].map(String);
    if (gone.includes(prefix)) attrs = undefined;
    if ([...u.nlri, ...v6].map((n) => (typeof n === "string" ? n : n.prefix)).includes(prefix))
      attrs = u.attributes;
  }
  return attrs;
}

export const announce = (nlri: string[], nh: string, extra: PathAttributes = {}): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop: nh, localPref: 100, ...extra },
  nlri,
});
