// RFC 4724 §4.1 selection deferral: after a start, the reflector sends nothing until every peer is
// up and each graceful-restart peer has sent End-of-RIB, or the deferral time runs out.
import { afterEach, expect, it } from "vitest";
import type { UpdateMessage } from "../../src/bgp/index.js";
import { PEER_DEFAULTS } from "../../src/reflector/defaults.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { peerOpen } from "../fsm/helpers.js";
import { waitFor } from "../helpers/lab.js";
import type { RawPeer } from "../helpers/raw-peer.js";
import { accepted, establish } from "../helpers/reflector-peer.js";

let rr: Reflector;
afterEach(() => rr?.stop());

/** A client; with graceful restart, it advertises the capability (and the reflector waits for its End-of-RIB). */
function join(address: string, gr: boolean): Promise<RawPeer> {
  rr.addPeer({ ...PEER_DEFAULTS, peerAs: 64512, passive: true, families: ["ipv4"], peerAddress: address });
  // peerOpen's capabilities end with graceful restart for IPv4
  const caps = peerOpen().capabilities;
  const open = peerOpen({ bgpId: address, holdTime: 90, capabilities: gr ? caps : caps.slice(0, -1) });
  return establish(rr, address, accepted(rr, address), open);
}

const route = (prefix: string, nextHop: string): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop, localPref: 100 },
  nlri: [prefix],
});
const EOR: UpdateMessage = { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] };
const updates = (p: RawPeer) => p.received.filter((m): m is UpdateMessage => m.type === "UPDATE");

it("waits for every graceful-restart peer's End-of-RIB, then sends whole tables", async () => {
  rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, selectionDeferral: 30 });
  const a = await join("127.0.60.1", true);
  const b = await join("127.0.60.2", true);
  a.send(route("198.18.60.0/24", "203.0.113.1"));
  a.send(EOR);
  await new Promise((r) => setTimeout(r, 300));
  expect(updates(a)).toEqual([]);
  expect(updates(b)).toEqual([]);
  b.send(route("198.18.61.0/24", "203.0.113.2"));
  b.send(EOR);
  await waitFor(() => updates(b).some((u) => u.endOfRib), 2000, "b's End-of-RIB");
  // the whole table first, End-of-RIB last
  const got = updates(b);
  expect(got.at(-1)?.endOfRib).toBeTruthy();
  expect(got.flatMap((u) => u.nlri)).toEqual(expect.arrayContaining(["198.18.60.0/24", "198.18.61.0/24"]));
});

it("a peer without graceful restart does not hold it up; the deferral time ends it", async () => {
  rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, selectionDeferral: 0.5 });
  const plain = await join("127.0.60.3", false);
  await waitFor(() => updates(plain).some((u) => u.endOfRib), 1000, "no wait for a peer without GR");
  const silent = await join("127.0.60.4", true);
  // a fresh reflector whose GR peer never sends End-of-RIB: released by the timer
  rr.stop();
  rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, selectionDeferral: 0.5 });
  const late = await join("127.0.60.5", true);
  await new Promise((r) => setTimeout(r, 200));
  expect(updates(late)).toEqual([]);
  await waitFor(() => updates(late).some((u) => u.endOfRib), 2000, "released by the deferral time");
  expect(silent).toBeDefined();
});
