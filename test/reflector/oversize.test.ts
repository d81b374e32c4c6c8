// Routes that cannot be encoded for a peer (issue 15, finding 1): an UPDATE that fits in 4,096
// octets as received can outgrow them once reflected (ORIGINATOR_ID and CLUSTER_LIST added, a
// 2-octet AS_PATH re-encoded with 4-octet ASNs). RFC 4271 §9.2 lets a speaker leave a route out
// for a peer; it must never take the process or the other routes with it.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PathAttributes, UpdateMessage } from "../../src/bgp/index.js";
import { Group } from "../../src/reflector/groups.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { waitFor } from "../helpers/lab.js";
import { announce, held, join } from "../helpers/reflector-peer.js";
import { reliability } from "../helpers/reliability.js";

const RR = { routerId: "203.0.113.254", localAs: 64512, clusterId: "203.0.113.250" };

let rr: Reflector;
afterEach(() => rr?.stop());

/**
 * 1,011 communities: with ORIGIN, an empty AS_PATH, NEXT_HOP, LOCAL_PREF and one /24 the UPDATE
 * is exactly 4,096 octets; reflected, ORIGINATOR_ID and CLUSTER_LIST add 14 more.
 */
const MANY = Array.from({ length: 1011 }, (_, i) => `64512:${i}`);
const big = (nlri: string[]): UpdateMessage => announce(nlri, "203.0.113.11", { communities: MANY });

const v6 = (prefix: string, extra: PathAttributes = {}): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: {
    mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::11"], nlri: [prefix] },
    origin: "igp",
    asPath: [],
    localPref: 100,
    ...extra,
  },
  nlri: [],
});

/** RFC 4724 §2: End-of-RIB for IPv4 and for IPv6. */
const endOfRib: UpdateMessage[] = [
  { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] },
  { type: "UPDATE", withdrawn: [], attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: [] } }, nlri: [] },
];

describe("a route too large to send to a peer", () => {
  it("is left out for that peer, withdrawn where it was sent before, and counted; nothing else is lost", async (ctx) => {
    reliability(ctx, {
      scenario: "An UPDATE that outgrows 4,096 octets when reflected",
      load: "three clients over the in-memory transport, one with RFC 8654 extended messages",
      fault:
        "a valid 4,096-octet UPDATE, which ORIGINATOR_ID and CLUSTER_LIST make 4,110 (IPv4, IPv6, during the start-up deferral)",
      checked:
        "no crash; left out and withdrawn for the 4,096-octet peer, counted per peer; sent to the extended-message peer; every other route reflected",
    });
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const wide = await join(rr, "127.0.0.13", "203.0.113.13", { extendedMessage: true });
    a.send(announce(["198.18.1.0/24", "198.18.2.0/24"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.1.0/24") !== undefined, 2000, "the small routes");
    // The same prefix again, now with attributes that fit only as received.
    a.send(big(["198.18.1.0/24"]));
    a.send(announce(["198.18.3.0/24"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.3.0/24") !== undefined, 2000, "the route after it");
    await waitFor(() => held(b, "198.18.1.0/24") === undefined, 2000, "the withdrawal of what b held");
    expect(held(b, "198.18.2.0/24")).toBeDefined();
    // RFC 8654: a peer that takes extended messages gets the route.
    await waitFor(() => held(wide, "198.18.1.0/24") !== undefined, 2000, "the route over extended messages");
    expect(held(wide, "198.18.1.0/24")!.communities).toHaveLength(MANY.length);
    expect(rr.leftOut("127.0.0.12")).toEqual({ ipv4: 1, ipv6: 0 });
    expect(rr.leftOut("127.0.0.13")).toEqual({ ipv4: 0, ipv6: 0 });
    expect(rr.advertised("127.0.0.12").ipv4).toBe(2);
    for (const p of [a, b, wide]) expect(p.closed).toBe(false);
    // Once the route fits again it is sent, and no longer counted.
    a.send(announce(["198.18.1.0/24"], "203.0.113.11", { med: 7 }));
    await waitFor(() => held(b, "198.18.1.0/24")?.med === 7, 2000, "the route that fits again");
    expect(rr.leftOut("127.0.0.12")).toEqual({ ipv4: 0, ipv6: 0 });
  });

  it("IPv6: left out, the rest reflected", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    // MP_REACH_NLRI with a 16-octet next hop and one /64 takes 29 octets more than NEXT_HOP and a
    // /24: 1,004 communities make the received UPDATE 4,093 octets.
    a.send(v6("2001:db8:1::/64", { communities: MANY.slice(0, 1004) }));
    a.send(v6("2001:db8:2::/64"));
    await waitFor(() => held(b, "2001:db8:2::/64") !== undefined, 2000, "the small IPv6 route");
    expect(held(b, "2001:db8:1::/64")).toBeUndefined();
    expect(rr.leftOut("127.0.0.12")).toEqual({ ipv4: 0, ipv6: 1 });
    expect(a.closed || b.closed).toBe(false);
  });

  it("arriving during the start-up deferral, it is left out when the deferral ends", async () => {
    rr = new Reflector({ ...RR, selectionDeferral: 60 });
    // Graceful-restart peers: the deferral lasts until both have sent End-of-RIB.
    const a = await join(rr, "127.0.0.11", "203.0.113.11", { gracefulRestart: true });
    const b = await join(rr, "127.0.0.12", "203.0.113.12", { gracefulRestart: true });
    a.send(big(["198.18.1.0/24"]));
    a.send(announce(["198.18.2.0/24"], "203.0.113.11"));
    for (const m of endOfRib) a.send(m);
    await waitFor(() => rr.peer("127.0.0.11")!.endOfRib.ipv6 > 0, 2000, "a's End-of-RIB");
    expect(held(b, "198.18.2.0/24")).toBeUndefined(); // still deferring
    for (const m of endOfRib) b.send(m);
    await waitFor(() => held(b, "198.18.2.0/24") !== undefined, 2000, "the table after the deferral");
    expect(held(b, "198.18.1.0/24")).toBeUndefined();
    expect(rr.leftOut("127.0.0.12").ipv4).toBe(1);
  });
});

// Issue 15: nothing in the data path can throw past a per-peer or per-group boundary.
describe("a fault while sending to an update group", () => {
  it("resets that group's sessions (Cease / Out of Resources) and nothing else", async () => {
    rr = new Reflector(RR);
    // an edge router announces; two clients share a group; another eBGP peer is in a group of its own
    const edge = await join(rr, "127.0.0.11", "203.0.113.11", { role: "ebgp", asn: 65011 });
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const c = await join(rr, "127.0.0.13", "203.0.113.13");
    const other = await join(rr, "127.0.0.14", "203.0.113.14", { role: "ebgp", asn: 65014 });
    const edgeRoute = (prefix: string) =>
      announce([prefix], "203.0.113.11", { asPath: [{ type: "AS_SEQUENCE", asns: [65011] }] });
    edge.send(edgeRoute("198.18.1.0/24"));
    await waitFor(
      () => held(b, "198.18.1.0/24") !== undefined && held(other, "198.18.1.0/24") !== undefined,
      2000,
      "reflection",
    );
    const original = Group.prototype.encode;
    const spy = vi.spyOn(Group.prototype, "encode").mockImplementation(function (this: Group, ...args) {
      if (this.receiver.role === "client") throw new Error("a bug in the encoder");
      return original.apply(this, args);
    });
    edge.send(edgeRoute("198.18.2.0/24"));
    await waitFor(
      () => b.count("NOTIFICATION") > 0 && c.count("NOTIFICATION") > 0,
      2000,
      "the clients' group reset",
    );
    expect(b.received.find((m) => m.type === "NOTIFICATION")).toMatchObject({ code: 6, subcode: 8 });
    // the other group went on, and the process with it
    await waitFor(() => held(other, "198.18.2.0/24") !== undefined, 2000, "the other group's UPDATE");
    expect(rr.peer("127.0.0.14")?.session.state).toBe("Established");
    expect(rr.peer("127.0.0.11")?.session.state).toBe("Established");
    spy.mockRestore();
  });
});
