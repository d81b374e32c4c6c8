// What the reflector accepts and sends, as RFC 4271 §9 and RFC 4456 say: AS_PATH loops are not
// candidates, and a group is sent a prefix only when what it would be sent changed. A check that
// something was not sent waits for a marker announced after it instead of sleeping: one peer's
// UPDATEs are reflected in order, so once the marker is there, anything before it would be too.
import { afterEach, describe, expect, it } from "vitest";
import type { UpdateMessage } from "../../src/bgp/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { waitFor } from "../helpers/lab.js";
import type { RawPeer } from "../helpers/raw-peer.js";
import { announce, held, join, updates } from "../helpers/reflector-peer.js";

const RR = { routerId: "203.0.113.254", localAs: 64512, clusterId: "203.0.113.250" };

let rr: Reflector;
afterEach(() => rr?.stop());

/** The UPDATEs a peer got that announce or withdraw this prefix. */
const about = (p: RawPeer, prefix: string): UpdateMessage[] =>
  updates(p).filter((u) =>
    [
      ...u.nlri,
      ...u.withdrawn,
      ...(u.attributes.mpReach?.nlri ?? []),
      ...(u.attributes.mpUnreach?.withdrawn ?? []),
    ]
      .map((n) => (typeof n === "string" ? n : n.prefix))
      .includes(prefix),
  );

/** Announces a marker prefix from `from` and waits until `to` holds it. */
async function marker(from: RawPeer, to: RawPeer, prefix: string, nh: string): Promise<void> {
  from.send(announce([prefix], nh));
  await waitFor(() => held(to, prefix) !== undefined, 2000, `the marker ${prefix}`);
}

const edgeRoute = (prefix: string, asns: number[]): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [{ type: "AS_SEQUENCE", asns }], nextHop: "203.0.113.99" },
  nlri: [prefix],
});

describe("AS_PATH loops (RFC 4271 §9.1.2)", () => {
  it("a path with our AS in its AS_PATH is not a candidate: the client's withdrawal is not replaced by it", async () => {
    rr = new Reflector(RR);
    const edge = await join(rr, "127.0.0.99", "203.0.113.99", { role: "ebgp", asn: 65099 });
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.20.0/24"], "203.0.113.11"));
    await waitFor(() => held(edge, "198.18.20.0/24") !== undefined, 2000, "the route at the edge");
    // The edge re-advertises what it got from us, our AS in the path.
    edge.send(edgeRoute("198.18.20.0/24", [65099, 64512]));
    a.send({ type: "UPDATE", withdrawn: ["198.18.20.0/24"], attributes: {}, nlri: [] });
    await waitFor(() => held(b, "198.18.20.0/24") === undefined, 2000, "the withdrawal at b");
    await marker(a, b, "198.18.21.0/24", "203.0.113.11");
    expect(held(b, "198.18.20.0/24")).toBeUndefined();
    expect(held(a, "198.18.20.0/24")).toBeUndefined();
    expect(rr.rib.get("ipv4", "198.18.20.0/24")).toBeUndefined();
    // the session stays up: a looped route is ineligible, not an error
    expect(rr.peer("127.0.0.99")!.session.state).toBe("Established");
  });

  it("IPv6 too", async () => {
    rr = new Reflector(RR);
    const edge = await join(rr, "127.0.0.99", "203.0.113.99", { role: "ebgp", asn: 65099 });
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const v6 = (prefix: string, asns: number[]): UpdateMessage => ({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [{ type: "AS_SEQUENCE", asns }],
        mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::99"], nlri: [prefix] },
      },
      nlri: [],
    });
    edge.send(v6("2001:db8:20::/48", [65099, 64512]));
    edge.send(v6("2001:db8:21::/48", [65099]));
    await waitFor(() => held(b, "2001:db8:21::/48") !== undefined, 2000, "the clean IPv6 route");
    expect(held(b, "2001:db8:20::/48")).toBeUndefined();
  });

  it("numAllowedLocalASNumbers: our AS that many times is allowed, once more is a loop", async () => {
    rr = new Reflector(RR);
    rr.addPeer({ ...BASE_EDGE, allowLocalAs: 1 });
    const edge = await join(rr, "127.0.0.99", "203.0.113.99", { role: "ebgp", asn: 65099, configured: true });
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    edge.send(edgeRoute("198.18.22.0/24", [65099, 64512]));
    edge.send(edgeRoute("198.18.23.0/24", [65099, 64512, 65098, 64512]));
    edge.send(edgeRoute("198.18.24.0/24", [65099]));
    await waitFor(() => held(b, "198.18.24.0/24") !== undefined, 2000, "the marker");
    expect(held(b, "198.18.22.0/24")).toBeDefined();
    expect(held(b, "198.18.23.0/24")).toBeUndefined();
  });
});

const BASE_EDGE = {
  ...clientOf(RR),
  passive: true,
  peerAs: 65099,
  role: "ebgp" as const,
  peerAddress: "127.0.0.99",
};

describe("export: a group is sent what changed, and only that", () => {
  it("an identical re-announcement is not re-sent", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.30.0/24"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.30.0/24") !== undefined, 2000, "reflection");
    a.send(announce(["198.18.30.0/24"], "203.0.113.11"));
    await marker(a, b, "198.18.31.0/24", "203.0.113.11");
    expect(about(b, "198.18.30.0/24")).toHaveLength(1);
  });

  it("a change to a path that is not the best is not sent", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const c = await join(rr, "127.0.0.13", "203.0.113.13");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.32.0/24"], "203.0.113.11", { localPref: 200 }));
    await waitFor(() => held(b, "198.18.32.0/24") !== undefined, 2000, "reflection");
    c.send(announce(["198.18.32.0/24"], "203.0.113.13", { localPref: 50 }));
    c.send(announce(["198.18.32.0/24"], "203.0.113.13", { localPref: 60 }));
    await marker(c, b, "198.18.33.0/24", "203.0.113.13");
    expect(about(b, "198.18.32.0/24")).toHaveLength(1);
    expect(held(b, "198.18.32.0/24")!.localPref).toBe(200);
  });

  it("a route announced and withdrawn before it was sent is not withdrawn from anyone", async () => {
    rr = new Reflector({ ...RR, flushDelayMs: 20 });
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.34.0/24"], "203.0.113.11"));
    a.send({ type: "UPDATE", withdrawn: ["198.18.34.0/24"], attributes: {}, nlri: [] });
    await marker(a, b, "198.18.35.0/24", "203.0.113.11");
    expect(about(b, "198.18.34.0/24")).toEqual([]);
  });

  it("a max-prefix reset withdraws nothing the others were never sent", async () => {
    rr = new Reflector({ ...RR, flushDelayMs: 20 });
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    rr.addPeer({ ...BASE_EDGE, peerAs: 64512, role: "client", peerAddress: "127.0.0.11", maxPrefixes: 2 });
    const a = await join(rr, "127.0.0.11", "203.0.113.11", { configured: true });
    a.send(announce(["198.18.36.0/24", "198.18.36.64/26", "198.18.36.128/26"], "203.0.113.11"));
    await waitFor(() => rr.peer("127.0.0.11")!.session.state !== "Established", 2000, "the reset");
    const c = await join(rr, "127.0.0.13", "203.0.113.13");
    await marker(c, b, "198.18.37.0/24", "203.0.113.13");
    expect(updates(b).flatMap((u) => u.withdrawn)).toEqual([]);
  });

  it("status: a peer is not counted as advertised the routes it sent itself", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.38.0/24", "198.18.38.64/26"], "203.0.113.11"));
    b.send(announce(["198.18.39.0/24"], "203.0.113.12"));
    await waitFor(
      () => held(b, "198.18.38.64/26") !== undefined && held(a, "198.18.39.0/24") !== undefined,
      2000,
      "reflection",
    );
    expect(rr.advertised("127.0.0.11").ipv4).toBe(1);
    expect(rr.advertised("127.0.0.12").ipv4).toBe(2);
  });

  /** The path identifiers a client holds for a prefix, and each path's next hop, replaying what it got. */
  const heldPaths = (p: RawPeer, prefix: string) => {
    const ids = new Map<number, string>();
    for (const u of updates(p)) {
      for (const w of u.withdrawn) if (typeof w !== "string" && w.prefix === prefix) ids.delete(w.pathId);
      for (const n of u.nlri)
        if (typeof n !== "string" && n.prefix === prefix) ids.set(n.pathId, u.attributes.nextHop!);
    }
    return [...ids.values()].sort();
  };

  it("ADD-PATH: a path re-announced unchanged is not re-sent; a changed one is", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const ap = await join(rr, "127.0.0.15", "203.0.113.15", { addPath: true });
    a.send(announce(["198.18.40.0/24"], "203.0.113.11"));
    b.send(announce(["198.18.40.0/24"], "203.0.113.12"));
    await waitFor(() => heldPaths(ap, "198.18.40.0/24").length === 2, 2000, "two paths");
    a.send(announce(["198.18.40.0/24"], "203.0.113.11"));
    await marker(a, ap, "198.18.41.0/24", "203.0.113.11");
    expect(about(ap, "198.18.40.0/24")).toHaveLength(2);
    b.send(announce(["198.18.40.0/24"], "203.0.113.12", { med: 7 }));
    await waitFor(() => about(ap, "198.18.40.0/24").length === 3, 2000, "the changed path");
    expect(about(ap, "198.18.40.0/24")[2]!.attributes.med).toBe(7);
  });

  it("ADD-PATH: a route refresh before a flush does not make the stream forget a path it must withdraw", async () => {
    rr = new Reflector({ ...RR, flushDelayMs: 300 });
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const c = await join(rr, "127.0.0.13", "203.0.113.13");
    const ap1 = await join(rr, "127.0.0.15", "203.0.113.15", { addPath: true });
    const ap2 = await join(rr, "127.0.0.16", "203.0.113.16", { addPath: true });
    a.send(announce(["198.18.42.0/24"], "203.0.113.11"));
    await waitFor(() => heldPaths(ap1, "198.18.42.0/24").length === 1, 2000, "a's path");
    // a's path goes and c's comes; ap2 asks for the table before the change is flushed
    a.send({ type: "UPDATE", withdrawn: ["198.18.42.0/24"], attributes: {}, nlri: [] });
    c.send(announce(["198.18.42.0/24"], "203.0.113.13"));
    await waitFor(
      () => rr.rib.get("ipv4", "198.18.42.0/24")?.best?.peer.address === "127.0.0.13",
      2000,
      "c's path",
    );
    ap2.send({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 });
    await marker(c, ap1, "198.18.43.0/24", "203.0.113.13");
    expect(heldPaths(ap1, "198.18.42.0/24")).toEqual(["203.0.113.13"]);
    expect(heldPaths(ap2, "198.18.42.0/24")).toEqual(["203.0.113.13"]);
  });

  it("a peer that joins after changes gets the table as of a flush and the changes since, without a new encoding of it", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    // 50 routes of their own next hop: 50 UPDATEs in the table
    const table = Array.from({ length: 50 }, (_, i) => `198.18.44.${i * 4}/30`);
    for (const [i, p] of table.entries()) a.send(announce([p], `203.0.113.${100 + i}`));
    // b's table is made once all 50 are in (on a loaded machine they are still arriving when b
    // comes, and a table of a few, with the rest as changes since, is rightly made anew)
    await waitFor(() => table.every((p) => rr.rib.get("ipv4", p) !== undefined), 2000, "a's 50 routes in");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    await waitFor(() => table.every((p) => held(b, p) !== undefined), 2000, "b's table");
    const g = rr.updateGroups[0]!;
    const tableBytes = g.bytesEncoded;
    a.send({ type: "UPDATE", withdrawn: [table[0]!], attributes: {}, nlri: [] });
    // and one that comes and goes after the table was made: a joiner is not told to withdraw it
    a.send(announce(["198.18.46.0/24"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.46.0/24") !== undefined, 2000, "the passing route");
    a.send({ type: "UPDATE", withdrawn: ["198.18.46.0/24"], attributes: {}, nlri: [] });
    await marker(a, b, "198.18.45.0/24", "203.0.113.11");
    const encoded = g.bytesEncoded;
    // a flapping peer: gone and back twice
    for (let i = 0; i < 2; i++) {
      const c = await join(rr, `127.0.0.${13 + i}`, `203.0.113.${13 + i}`);
      await waitFor(() => updates(c).filter((u) => u.endOfRib).length === 2, 2000, "c's End-of-RIB");
      expect(held(c, table[0]!)).toBeUndefined();
      expect(table.slice(1).every((p) => held(c, p) !== undefined)).toBe(true);
      expect(held(c, "198.18.45.0/24")).toBeDefined();
      expect(about(c, "198.18.46.0/24")).toEqual([]);
      rr.removePeer(`127.0.0.${13 + i}`);
    }
    // only the two changed prefixes were encoded for each, not the table
    expect(g.bytesEncoded - encoded).toBeLessThan(tableBytes / 10);
  });
});
