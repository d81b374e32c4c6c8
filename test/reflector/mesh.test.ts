// Two of our reflectors meshed as non-clients of each other (RFC 4456 §7): with different
// cluster IDs a client's route crosses to the other cluster with both IDs in CLUSTER_LIST; with
// equal cluster IDs the second reflector finds its own ID and drops the route.
import { afterEach, describe, expect, it } from "vitest";
import type { Family } from "../../src/bgp/index.js";
import { makeContext, type UpdateMessage } from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { waitFor } from "../helpers/lab.js";
import { RawPeer } from "../helpers/raw-peer.js";

const COMMON = { passive: true, families: ["ipv4"] as Family[] };

let rrs: Reflector[] = [];
afterEach(() => {
  for (const r of rrs) r.stop();
  rrs = [];
});

async function client(rr: Reflector, address: string, id: string): Promise<RawPeer> {
  rr.addPeer({ ...clientOf(rr.config), ...COMMON, peerAddress: address });
  const [ours, theirs] = socketPair();
  rr.peer(address)!.session.accept(ours);
  const raw = new RawPeer(theirs, makeContext());
  await raw.next("OPEN");
  raw.send({
    type: "OPEN",
    version: 4,
    myAs: 64512,
    holdTime: 90,
    bgpId: id,
    capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }],
  });
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => rr.peer(address)!.session.state === "Established", 2000, "client up");
  return raw;
}

async function mesh(cluster1: string, cluster2: string): Promise<[Reflector, Reflector]> {
  const rr1 = new Reflector({ routerId: "203.0.113.201", localAs: 64512, clusterId: cluster1 });
  const rr2 = new Reflector({ routerId: "203.0.113.202", localAs: 64512, clusterId: cluster2 });
  rrs.push(rr1, rr2);
  rr1.addPeer({ ...clientOf(rr1.config), ...COMMON, peerAddress: "rr2", role: "non-client" });
  rr2.addPeer({ ...clientOf(rr2.config), ...COMMON, peerAddress: "rr1", role: "non-client" });
  const [a, b] = socketPair();
  rr1.peer("rr2")!.session.accept(a);
  rr2.peer("rr1")!.session.accept(b);
  await waitFor(() => rr1.peer("rr2")!.session.state === "Established", 2000, "the reflectors' session");
  return [rr1, rr2];
}

const announce = (prefix: string): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.11", localPref: 100 },
  nlri: [prefix],
});

const routesOf = (p: RawPeer) =>
  p.received.filter((m): m is UpdateMessage => m.type === "UPDATE" && m.nlri.length > 0);

describe("two reflectors meshed", () => {
  it("with different cluster IDs, a client's route reaches the other cluster with both IDs in CLUSTER_LIST", async () => {
    const [rr1, rr2] = await mesh("203.0.113.251", "203.0.113.252");
    const a = await client(rr1, "127.0.0.11", "203.0.113.11");
    const b = await client(rr2, "127.0.0.12", "203.0.113.12");
    a.send(announce("198.18.40.0/26"));
    await waitFor(() => routesOf(b).length > 0, 2000, "the route in the other cluster");
    expect(routesOf(b)[0]!.attributes).toMatchObject({
      originatorId: "203.0.113.11",
      clusterList: ["203.0.113.252", "203.0.113.251"],
    });
  });

  it("with equal cluster IDs, the second reflector drops the route as a loop and its client does not get it", async () => {
    const [rr1, rr2] = await mesh("203.0.113.250", "203.0.113.250");
    const a = await client(rr1, "127.0.0.11", "203.0.113.11");
    const b = await client(rr2, "127.0.0.12", "203.0.113.12");
    a.send(announce("198.18.41.0/26"));
    await waitFor(() => rr2.peer("rr1")!.rib.count("ipv4") === 1, 2000, "the route at the second reflector");
    // ineligible: CLUSTER_LIST carries its own cluster ID. The loop check runs with the UPDATE, so
    // with nothing in the Loc-RIB and nothing waiting to flush, the client cannot be sent anything.
    expect(rr2.rib.size).toBe(0);
    expect(rr2.rib.dirty.size).toBe(0);
    expect(routesOf(b)).toHaveLength(0);
    expect(rr2.peer("rr1")!.session.state).toBe("Established"); // a loop is not a session error
  });
});
