// Equivalence: the same four clients and routes, first with our reflector, then with BIRD 2 as
// the reflector on the same address and cluster ID; every client's table must be the same.
// Our reflector, like FRR's update groups, also sends a client its own route back with its own
// ORIGINATOR_ID (RFC 4456 §8 makes the client drop it); ExaBGP has no RIB and logs it, so a
// client's own prefix is left out of its table on both sides.
import { afterAll, describe, expect, it } from "vitest";
import { Listener } from "../../src/fsm/index.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { BASE, type Bird, type LabRoute, LabSpeaker, labRoutes, startBird, waitFor } from "../helpers/lab.js";

const RR = "127.0.32.1";
const CLUSTER = "203.0.113.250";
const ADDR = {
  bird: "127.0.32.11",
  gobgp: "127.0.32.12",
  frr: "127.0.32.13",
  exabgp: "127.0.32.14",
} as const;
const PREFIX = {
  bird: "198.18.51.0/24",
  gobgp: "198.18.52.0/24",
  frr: "198.18.53.0/24",
  exabgp: "198.18.54.0/24",
} as const;
type Kind = keyof typeof ADDR;
const KINDS = Object.keys(ADDR) as Kind[];

let bird: Bird | undefined;
const lab: Partial<Record<Kind, LabSpeaker>> = {};
let birdRr: LabSpeaker | undefined;

afterAll(async () => {
  for (const s of Object.values(lab)) s.stop();
  birdRr?.stop();
  await bird?.stop();
});

const dirOf = (k: Kind) => (k === "bird" ? bird!.dir : lab[k]!.dir);

/** Each client's table, its own prefix left out, in a stable order. */
function tables(): Record<Kind, LabRoute[]> {
  const out = {} as Record<Kind, LabRoute[]>;
  for (const k of KINDS) {
    out[k] = labRoutes(k, dirOf(k))
      .filter((r) => r.prefix !== PREFIX[k])
      .sort((a, b) => a.prefix.localeCompare(b.prefix));
  }
  return out;
}

const complete = () => {
  try {
    const t = tables();
    return KINDS.every((k) => t[k].length === 3);
  } catch {
    return false;
  }
};

describe("equivalence with BIRD 2 as the reflector", () => {
  it("every client's table is the same with our reflector and with BIRD's", async () => {
    const rr = new Reflector({ routerId: RR, localAs: 64512, clusterId: CLUSTER });
    const listener = new Listener((addr) => rr.peer(addr)?.session);
    await listener.listen(179, RR);
    for (const k of KINDS)
      rr.addPeer({
        ...BASE,
        routerId: RR,
        clusterId: CLUSTER,
        peerAddress: ADDR[k],
        localAddress: RR,
        passive: true,
      });
    const env = { PEERS: RR, CONNECT_RETRY: "1", HOLD_TIME: "9" };
    bird = await startBird("eq-client", {
      addr: ADDR.bird,
      peer: { addr: RR, port: 179, asn: 64512 },
      routes: [PREFIX.bird],
      holdTime: 9,
    });
    lab.gobgp = LabSpeaker.start("start-gobgp-rr.sh", ADDR.gobgp, { ...env, ROUTES: PREFIX.gobgp });
    lab.frr = LabSpeaker.start("start-frr-rr.sh", ADDR.frr, { ...env, ROUTES: PREFIX.frr });
    lab.exabgp = LabSpeaker.start("start-exabgp.sh", ADDR.exabgp, { ...env, ROUTES: PREFIX.exabgp });
    await waitFor(complete, 60_000, "every client to hold three routes through our reflector");
    const ours = tables();

    rr.stop();
    await listener.close();
    birdRr = LabSpeaker.start("start-bird-rr.sh", RR, {
      RR_CLIENTS: KINDS.map((k) => ADDR[k]).join(" "),
      CLUSTER_ID: CLUSTER,
      HOLD_TIME: "9",
    });
    // Wait for the clients to drop the routes learned from us, then to learn BIRD's.
    await waitFor(() => !complete(), 30_000, "the clients to notice the reflector changed");
    await waitFor(complete, 60_000, "every client to hold three routes through BIRD");
    const birds = tables();
    expect(ours).toEqual(birds);
    expect(ours.gobgp.map((r) => r.cluster_list)).toEqual([[CLUSTER], [CLUSTER], [CLUSTER]]);
  });
});
