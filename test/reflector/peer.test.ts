// The peer controller against a scripted peer over in-memory sockets: graceful restart with
// End-of-RIB, enhanced route refresh, maximum prefixes, RFC 7606 treat-as-withdraw.
import { afterEach, describe, expect, it } from "vitest";
import type { Capability, OpenMessage, UpdateMessage } from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import { Peer, type PeerOptions } from "../../src/reflector/peer.js";
import { peerOpen } from "../fsm/helpers.js";
import { waitFor } from "../helpers/lab.js";
import { RawPeer } from "../helpers/raw-peer.js";

const OPTIONS: PeerOptions = {
  localAs: 64512,
  routerId: "203.0.113.1",
  peerAs: 64512,
  holdTime: 90,
  connectRetryTime: 5,
  passive: true,
  idleHoldTime: 0,
  maxIdleHoldTime: 1,
  families: ["ipv4", "ipv6"],
  gracefulRestart: { restartTime: 120 },
  peerAddress: "127.0.0.2",
  peerPort: 179,
};

const GR_F: Capability = {
  code: 64,
  name: "graceful-restart",
  restartFlags: 0,
  restartTime: 5,
  families: [{ afi: 1, safi: 1, flags: 0x80 }],
};
const open = (caps: Capability[] = [GR_F]): OpenMessage =>
  peerOpen({
    capabilities: [
      { code: 65, name: "four-octet-as", asn: 64512 },
      { code: 2, name: "route-refresh" },
      ...caps,
    ],
  });
const announce = (nlri: string[]): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.2", localPref: 100 },
  nlri,
});
const EOR: UpdateMessage = { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] };

let peers: Peer[] = [];
afterEach(() => {
  for (const p of peers) p.stop();
  peers = [];
});

async function connect(peer: Peer, o: OpenMessage = open()): Promise<RawPeer> {
  const [ours, theirs] = socketPair();
  peer.session.accept(ours);
  const raw = new RawPeer(theirs);
  await raw.next("OPEN");
  raw.send(o);
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => peer.session.state === "Established", 2000, "Established");
  return raw;
}

function start(options: Partial<PeerOptions> = {}): Peer {
  const p = new Peer({ ...OPTIONS, ...options });
  peers.push(p);
  p.start();
  return p;
}

describe("graceful restart, receiving speaker (RFC 4724 §4.2)", () => {
  it("keeps a restarting peer's routes stale, and sweeps what it does not re-send at End-of-RIB", async () => {
    const peer = start();
    let raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24", "198.18.2.0/24"]));
    await waitFor(() => peer.rib.count("ipv4") === 2, 2000, "two routes");
    raw.socket.destroy();
    await waitFor(() => peer.session.state !== "Established", 2000, "down");
    expect([...peer.rib.entries()].every((r) => r.stale)).toBe(true);
    await waitFor(() => peer.session.state === "Active", 3000, "restarted");
    raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24"]));
    await waitFor(() => peer.updatesIn >= 2, 2000, "the re-sent route");
    expect(peer.rib.count("ipv4")).toBe(2); // the unsent one waits for End-of-RIB
    raw.send(EOR);
    await waitFor(() => peer.rib.count("ipv4") === 1, 2000, "the sweep");
    expect([...peer.rib.entries()].map((r) => [r.prefix, r.stale])).toEqual([["198.18.1.0/24", false]]);
  });

  it("drops the stale routes when the restart time runs out", async () => {
    const peer = start({ maxRestartTime: 0.2 });
    const raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24"]));
    await waitFor(() => peer.rib.count("ipv4") === 1, 2000, "a route");
    raw.socket.destroy();
    await waitFor(() => peer.rib.count("ipv4") === 0, 2000, "the restart timer");
  });

  it("drops a peer's routes at once when it did not announce graceful restart", async () => {
    const peer = start();
    const raw = await connect(peer, open([]));
    raw.send(announce(["198.18.1.0/24"]));
    await waitFor(() => peer.rib.count("ipv4") === 1, 2000, "a route");
    raw.socket.destroy();
    await waitFor(() => peer.rib.count("ipv4") === 0, 2000, "the withdrawal");
  });
});

describe("peer rules", () => {
  it("enhanced route refresh: BoRR marks stale, EoRR removes what was not re-sent (RFC 7313)", async () => {
    const peer = start();
    const raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24", "198.18.2.0/24"]));
    await waitFor(() => peer.rib.count("ipv4") === 2, 2000, "two routes");
    raw.send({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 1 });
    raw.send(announce(["198.18.2.0/24"]));
    raw.send({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 2 });
    await waitFor(() => peer.rib.count("ipv4") === 1, 2000, "the EoRR sweep");
    expect([...peer.rib.entries()][0]!.prefix).toBe("198.18.2.0/24");
  });

  it("more prefixes than the limit reset the session with Cease 6/1 carrying AFI, SAFI and the limit", async () => {
    const peer = start({ maxPrefixes: 2 });
    const raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24"]));
    const n = await raw.next("NOTIFICATION");
    expect([n.code, n.subcode, n.dataHex]).toEqual([6, 1, "00010100000002"]);
  });

  it("a malformed attribute withdraws what the UPDATE announced and keeps the session (RFC 7606)", async () => {
    const peer = start();
    const raw = await connect(peer);
    raw.send(announce(["198.18.1.0/24"]));
    await waitFor(() => peer.rib.count("ipv4") === 1, 2000, "a route");
    raw.send({ ...announce(["198.18.1.0/24"]), attributes: { nextHop: "203.0.113.2" } }); // ORIGIN, AS_PATH missing
    await waitFor(() => peer.rib.count("ipv4") === 0, 2000, "treat-as-withdraw");
    expect(peer.session.state).toBe("Established");
  });
});

describe("Adj-RIB-In", () => {
  it("clears 200,000 routes in one go", async () => {
    const { AdjRibIn, AttrTable } = await import("../../src/rib/index.js");
    const table = new AttrTable();
    const rib = new AdjRibIn(table);
    const nlri = Array.from(
      { length: 200_000 },
      (_, i) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
    );
    rib.apply(
      { ...announce([]), nlri },
      table.intern("k", () => ({})),
    );
    expect(rib.count("ipv4")).toBe(200_000);
    expect(rib.clear().withdrawn).toHaveLength(200_000);
    expect(rib.count("ipv4")).toBe(0);
    expect(table.size).toBe(0); // the attribute set went with its last route
  });
});
