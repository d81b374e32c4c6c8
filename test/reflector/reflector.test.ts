// Scenario replays through the reflector core, over in-memory sockets: peers announce and
// withdraw, and each peer's received UPDATEs are checked.
import { afterEach, describe, expect, it } from "vitest";
import { Reflector } from "../../src/reflector/reflector.js";
import { waitFor } from "../helpers/lab.js";
import { announce, held, join, updates } from "../helpers/reflector-peer.js";

const RR = { routerId: "203.0.113.254", localAs: 64512, clusterId: "203.0.113.250" };

let rr: Reflector;
afterEach(() => rr?.stop());

describe("route reflection through the core", () => {
  it("reflects a client's route to the other clients with ORIGINATOR_ID and CLUSTER_LIST, then its withdrawal", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const c = await join(rr, "127.0.0.13", "203.0.113.13");
    a.send(announce(["198.18.1.0/26"], "203.0.113.11", { communities: ["64512:7"], med: 5 }));
    await waitFor(
      () => held(b, "198.18.1.0/26") !== undefined && held(c, "198.18.1.0/26") !== undefined,
      2000,
      "reflection",
    );
    expect(held(b, "198.18.1.0/26")).toMatchObject({
      nextHop: "203.0.113.11",
      med: 5,
      localPref: 100,
      communities: ["64512:7"],
      originatorId: "203.0.113.11",
      clusterList: ["203.0.113.250"],
    });
    a.send({ type: "UPDATE", withdrawn: ["198.18.1.0/26"], attributes: {}, nlri: [] });
    await waitFor(
      () => held(b, "198.18.1.0/26") === undefined && held(c, "198.18.1.0/26") === undefined,
      2000,
      "withdrawal",
    );
  });

  // Issue 14: a Node deleted from the datastore is gone for good; graceful restart does not apply.
  it("a peer removed from the configuration has its routes withdrawn at once, graceful restart or not", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11", { gracefulRestart: true });
    const b = await join(rr, "127.0.0.12", "203.0.113.12", { gracefulRestart: true });
    a.send(announce(["198.18.4.0/24"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.4.0/24") !== undefined, 2000, "reflection");
    rr.removePeer("127.0.0.11", "peer removed from the configuration", 3);
    // no stale path kept for it: the Loc-RIB holds nothing from a any more
    expect([...rr.rib.all()].flatMap((d) => d.paths)).toEqual([]);
    await waitFor(() => held(b, "198.18.4.0/24") === undefined, 500, "the withdrawal");
    // and a is told to drop ours: a Hard Reset, as both sides set the N bit
    const n = await a.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 9]);
  });

  it("withdraws a peer's routes from everyone when its session drops", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.2.0/26"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.2.0/26") !== undefined, 2000, "reflection");
    a.socket.destroy();
    await waitFor(() => held(b, "198.18.2.0/26") === undefined, 2000, "withdrawal after the drop");
  });

  it("gives a peer that joins late the full table, then End-of-RIB for each family", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    a.send(announce(["198.18.3.0/26", "198.18.3.64/26"], "203.0.113.11"));
    await waitFor(() => rr.rib.size === 2, 2000, "two prefixes in the Loc-RIB");
    const late = await join(rr, "127.0.0.14", "203.0.113.14");
    await waitFor(() => updates(late).filter((u) => u.endOfRib).length === 2, 2000, "two End-of-RIB");
    expect(held(late, "198.18.3.0/26")).toBeDefined();
    expect(held(late, "198.18.3.64/26")).toBeDefined();
    const firstEor = updates(late).findIndex((u) => u.endOfRib);
    expect(
      updates(late)
        .slice(0, firstEor)
        .flatMap((u) => u.nlri),
    ).toHaveLength(2);
  });

  it("sends non-client routes to clients only, never to another non-client", async () => {
    rr = new Reflector(RR);
    const n1 = await join(rr, "127.0.0.21", "203.0.113.21", { role: "non-client" });
    const n2 = await join(rr, "127.0.0.22", "203.0.113.22", { role: "non-client" });
    const c = await join(rr, "127.0.0.11", "203.0.113.11");
    n1.send(announce(["198.18.4.0/26"], "203.0.113.21"));
    await waitFor(() => held(c, "198.18.4.0/26") !== undefined, 2000, "the client gets it");
    // what the engine sends the non-clients' group, read from it rather than waited for (the
    // replay test/scenarios/reflection-matrix shows the same with a fake clock)
    expect(rr.advertised("127.0.0.22").ipv4).toBe(0);
    expect(held(n2, "198.18.4.0/26")).toBeUndefined();
  });

  it("eBGP: our AS prepended towards the edge router; its routes reach clients with LOCAL_PREF 100", async () => {
    rr = new Reflector(RR);
    const edge = await join(rr, "127.0.0.31", "203.0.113.31", { role: "ebgp", asn: 65001 });
    const c = await join(rr, "127.0.0.11", "203.0.113.11");
    c.send(announce(["198.18.5.0/26"], "203.0.113.11"));
    edge.send({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [{ type: "AS_SEQUENCE", asns: [65001] }],
        nextHop: "203.0.113.31",
      },
      nlri: ["198.18.200.0/24"],
    });
    await waitFor(
      () => held(edge, "198.18.5.0/26") !== undefined && held(c, "198.18.200.0/24") !== undefined,
      2000,
      "both ways",
    );
    const toEdge = held(edge, "198.18.5.0/26")!;
    expect(toEdge.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [64512] }]);
    expect([toEdge.localPref, toEdge.originatorId, toEdge.clusterList, toEdge.nextHop]).toEqual([
      undefined,
      undefined,
      undefined,
      "203.0.113.11",
    ]);
    const fromEdge = held(c, "198.18.200.0/24")!;
    expect([fromEdge.localPref, fromEdge.asPath, fromEdge.originatorId]).toEqual([
      100,
      [{ type: "AS_SEQUENCE", asns: [65001] }],
      undefined,
    ]);
  });

  it("does not reflect a path that carries our cluster ID (RFC 4456 §8)", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.6.0/26"], "203.0.113.11", { clusterList: ["203.0.113.250"] }));
    a.send(announce(["198.18.6.64/26"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.6.64/26") !== undefined, 2000, "the clean route");
    expect(held(b, "198.18.6.0/26")).toBeUndefined();
    expect(rr.peer("127.0.0.11")!.session.state).toBe("Established");
  });

  it("writes the same bytes to every member of an update group", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const members = [
      await join(rr, "127.0.0.12", "203.0.113.12"),
      await join(rr, "127.0.0.13", "203.0.113.13"),
    ];
    const before = members.map((m) => m.received.length);
    a.send(announce(["198.18.7.0/26", "198.18.7.64/26"], "203.0.113.11"));
    await waitFor(() => members.every((m) => held(m, "198.18.7.64/26") !== undefined), 2000, "reflection");
    const got = members.map((m, i) => JSON.stringify(m.received.slice(before[i])));
    expect(got[0]).toBe(got[1]);
    const groups = rr.updateGroups;
    expect(groups).toHaveLength(1); // a, and both members: same role, families and capabilities
    const g = groups[0]!;
    expect(g.bytesWritten).toBeGreaterThan(g.bytesEncoded); // one encoding, written to several members
  });

  it("ADD-PATH: a client that receives paths gets both paths of a prefix, the other only the best", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const ap = await join(rr, "127.0.0.15", "203.0.113.15", { addPath: true });
    const plain = await join(rr, "127.0.0.16", "203.0.113.16");
    a.send(announce(["198.18.8.0/26"], "203.0.113.11"));
    b.send(announce(["198.18.8.0/26"], "203.0.113.12"));
    await waitFor(() => updates(ap).flatMap((u) => u.nlri).length >= 2, 2000, "two paths");
    const ids = new Set(
      updates(ap).flatMap((u) => u.nlri.map((n) => (typeof n === "string" ? 0 : n.pathId))),
    );
    expect(ids.size).toBe(2);
    await waitFor(() => held(plain, "198.18.8.0/26") !== undefined, 2000, "the best path");
    expect(held(plain, "198.18.8.0/26")!.nextHop).toBe("203.0.113.11"); // lower originator ID wins
  });

  it("ADD-PATH best N: with N = 1 the best path only, and the next one when the best goes", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    const ap = await join(rr, "127.0.0.15", "203.0.113.15", { addPath: true, addPathMax: 1 });
    a.send(announce(["198.18.10.0/26"], "203.0.113.11"));
    b.send(announce(["198.18.10.0/26"], "203.0.113.12"));
    await waitFor(() => rr.rib.get("ipv4", "198.18.10.0/26")?.paths.length === 2, 2000, "two paths");
    /** The path identifiers the client holds now, replaying announcements and withdrawals. */
    const heldIds = () => {
      const ids = new Map<number, string>();
      for (const u of updates(ap)) {
        for (const w of u.withdrawn) if (typeof w !== "string") ids.delete(w.pathId);
        for (const n of u.nlri) if (typeof n !== "string") ids.set(n.pathId, u.attributes.nextHop!);
      }
      return [...ids.values()];
    };
    // that no second path follows is shown with a fake clock by test/scenarios/add-path-best-n
    await waitFor(() => heldIds().join() === "203.0.113.11", 2000, "the best path");
    expect(
      rr.updateGroups.find((g) => g.tx.addPath.ipv4)?.paths(rr.rib.get("ipv4", "198.18.10.0/26")!),
    ).toHaveLength(1);
    a.send({ type: "UPDATE", withdrawn: ["198.18.10.0/26"], attributes: {}, nlri: [] });
    await waitFor(() => heldIds().join() === "203.0.113.12", 2000, "the second path in place of the first");
  });

  it("reflects IPv6 routes", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::11"], nlri: ["2001:db8:11::/64"] },
        origin: "igp",
        asPath: [],
        localPref: 100,
      },
      nlri: [],
    });
    await waitFor(() => held(b, "2001:db8:11::/64") !== undefined, 2000, "the IPv6 route");
    expect(held(b, "2001:db8:11::/64")!.mpReach?.nextHop).toEqual(["2001:db8:ffff::11"]);
  });

  it("answers ROUTE-REFRESH by sending the table again", async () => {
    rr = new Reflector(RR);
    const a = await join(rr, "127.0.0.11", "203.0.113.11");
    const b = await join(rr, "127.0.0.12", "203.0.113.12");
    a.send(announce(["198.18.9.0/26"], "203.0.113.11"));
    await waitFor(() => held(b, "198.18.9.0/26") !== undefined, 2000, "reflection");
    const count = () => updates(b).filter((u) => u.nlri.includes("198.18.9.0/26")).length;
    const before = count();
    b.send({ type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 });
    await waitFor(() => count() > before, 2000, "the table again");
  });
});
