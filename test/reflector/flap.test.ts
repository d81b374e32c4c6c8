// A peer that flaps as fast as it can (a session, then a Cease, a hundred times a minute and
// more). IdleHold damping (RFC 4271 §8.1.1) only delays our own connects: every reconnect of
// the peer is accepted at once and gets its table (issue 14: a healthy reconnect must never wait
// for routes). The table it gets is the update group's cached encoding, so flapping costs no
// re-encoding; another peer's session and routes are untouched.
import { afterAll, expect, it } from "vitest";
import type { OpenMessage, UpdateMessage } from "../../src/bgp/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { peerOpen } from "../fsm/helpers.js";
import { waitFor } from "../helpers/lab.js";
import type { RawPeer } from "../helpers/raw-peer.js";
import { accepted } from "../helpers/reflector-peer.js";
import { reliability } from "../helpers/reliability.js";

const rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, flushDelayMs: 0 });
afterAll(() => rr.stop());

const open = (id: string): OpenMessage =>
  peerOpen({ bgpId: id, holdTime: 90, capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }] });

/** Connects to the reflector as `address`; resolves with the peer once Established, or undefined if refused. */
async function attempt(address: string): Promise<RawPeer | undefined> {
  const raw = accepted(rr, address);
  try {
    await raw.next("OPEN", 500);
  } catch {
    return undefined; // refused: closed without an OPEN
  }
  raw.send(open(address));
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => rr.peer(address)?.session.state === "Established" || raw.closed, 1000, "Established");
  return raw.closed ? undefined : raw;
}

it("a peer flapping for 20 s: every reconnect accepted and given its table; the other peer never notices", async (ctx) => {
  const measured = reliability(ctx, {
    scenario: "A peer flaps 100 times a minute and more",
    load: "one steady peer with a route",
    fault: "a peer that opens a session and drops it as fast as it can for 20 s",
    checked:
      "every reconnect accepted and given the table (End-of-RIB) from the cached encoding; the steady peer's session and route untouched",
  });
  for (const a of ["127.0.73.1", "127.0.73.2"]) {
    rr.addPeer({ ...clientOf(rr.config), passive: true, families: ["ipv4"], peerAddress: a });
  }
  const steady = (await attempt("127.0.73.1")) as RawPeer;
  const route: UpdateMessage = {
    type: "UPDATE",
    withdrawn: [],
    attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.1", localPref: 100 },
    nlri: ["198.18.73.0/24"],
  };
  steady.send(route);
  await waitFor(() => rr.rib.size === 1, 2000, "steady's route");

  let tries = 0;
  let sessions = 0;
  let tables = 0;
  let encoded = 0;
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    tries++;
    const flapper = await attempt("127.0.73.2");
    if (flapper) {
      sessions++;
      // its table: steady's route, then End-of-RIB
      await waitFor(() => flapper.count("UPDATE") >= 2 || flapper.closed, 1000, "the table");
      if (flapper.count("UPDATE") >= 2) tables++;
      encoded = Math.max(encoded, ...rr.updateGroups.map((g) => g.bytesEncoded));
      flapper.send({ type: "NOTIFICATION", code: 6, subcode: 2, dataHex: "" });
      flapper.socket.end();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`flap: ${sessions} sessions and ${tables} tables in ${tries} tries over 20 s`);
  expect(tries).toBeGreaterThan(50);
  expect(sessions).toBe(tries);
  expect(tables).toBe(sessions);
  // the table is encoded once, not once per session: a few hundred octets at most
  expect(encoded).toBeLessThan(500);
  expect(rr.peer("127.0.73.1")?.session.state).toBe("Established");
  expect(steady.count("NOTIFICATION")).toBe(0);
  expect(rr.rib.size).toBe(1);
  measured(`${sessions} sessions in ${tries} tries over 20 s, each given its table`);
}, 40_000);
