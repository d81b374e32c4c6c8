// A peer that flaps as fast as it can (a session, then a Cease, a hundred times a minute and
// more) is damped by IdleHold backoff (RFC 4271 §8.1.1): the reflector refuses it while the
// hold-down runs and doubles the hold-down each time. Another peer's session and routes are untouched.
import { afterAll, expect, it } from "vitest";
import type { OpenMessage, UpdateMessage } from "../../src/bgp/index.js";
import { PEER_DEFAULTS } from "../../src/reflector/defaults.js";
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

it("a peer flapping for 20 s gets only a handful of sessions; the other peer never notices", async (ctx) => {
  const measured = reliability(ctx, {
    scenario: "A peer flaps 100 times a minute and more",
    load: "one steady peer with a route",
    fault: "a peer that opens a session and drops it as fast as it can for 20 s",
    checked: "IdleHold damping (at most 5 sessions); the steady peer's session and route untouched",
  });
  for (const a of ["127.0.73.1", "127.0.73.2"]) {
    rr.addPeer({ ...PEER_DEFAULTS, peerAs: 64512, passive: true, families: ["ipv4"], peerAddress: a });
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
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    tries++;
    const flapper = await attempt("127.0.73.2");
    if (flapper) {
      sessions++;
      flapper.send({ type: "NOTIFICATION", code: 6, subcode: 2, dataHex: "" });
      flapper.socket.end();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`flap: ${sessions} sessions in ${tries} tries over 20 s`);
  // 1 + 2 + 4 + 8 s of hold-down fill 20 s: five sessions at most, against over a hundred tries.
  expect(tries).toBeGreaterThan(100);
  expect(sessions).toBeGreaterThanOrEqual(2);
  expect(sessions).toBeLessThanOrEqual(5);
  expect(rr.peer("127.0.73.1")?.session.state).toBe("Established");
  expect(steady.count("NOTIFICATION")).toBe(0);
  expect(rr.rib.size).toBe(1);
  measured(`${sessions} sessions in ${tries} tries over 20 s`);
}, 40_000);
