// Sessions with real BIRD 2 processes on loopback addresses.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { BASE, type Bird, Ours, startBird, waitFor } from "../helpers/lab.js";

const US = "127.0.20.1";
let ours: Ours;
let birds: Bird[] = [];

async function setup(): Promise<void> {
  ours = new Ours(US);
  await ours.listen();
}

afterEach(async () => {
  for (const b of birds) await b.stop();
  birds = [];
  await ours?.close();
});

describe("BIRD 2", () => {
  it("they connect: Established, the hold time negotiated down to BIRD's 9 s, routes received", async () => {
    await setup();
    const peer = ours.add({ ...BASE, routerId: US, peerAddress: "127.0.20.11", passive: true });
    birds.push(
      await startBird("they-connect", {
        addr: "127.0.20.11",
        peer: { addr: US, port: 179, asn: 64512 },
        holdTime: 9,
        routes: ["198.18.11.0/24", "198.18.12.0/24"],
      }),
    );
    await waitFor(() => peer.rib.count("ipv4") === 2, 20_000, "two routes from BIRD");
    expect(peer.session.state).toBe("Established");
    expect(peer.session.negotiated).toMatchObject({
      holdTime: 9,
      keepaliveTime: 3,
      asn4: true,
      routeRefresh: true,
    });
    const r = [...peer.rib.views("ipv4")].find((x) => x.prefix === "198.18.11.0/24")!;
    expect(r.attrs.attributes).toMatchObject({ origin: "igp", nextHop: "203.0.113.11", asPath: [] });
    expect(birds[0]!.birdc("show", "protocols", "all", "ours")).toMatch(/Established/);
  });

  it("we connect, to a passive BIRD speaking 2-octet AS numbers only", async () => {
    await setup();
    const peer = ours.add({ ...BASE, routerId: US, peerAddress: "127.0.20.12" });
    birds.push(
      await startBird("we-connect-as2", {
        addr: "127.0.20.12",
        peer: { addr: US, port: 179, asn: 64512 },
        passive: true,
        as4: false,
        routes: ["198.18.13.0/24"],
      }),
    );
    await waitFor(() => peer.rib.count("ipv4") === 1, 20_000, "a route from BIRD");
    expect(peer.session.negotiated?.asn4).toBe(false);
    expect(birds[0]!.birdc("show", "protocols", "all", "ours")).toMatch(/Established/);
  });

  it("route refresh both ways: we ask and BIRD re-sends; BIRD asks and we hear it", async () => {
    await setup();
    let refreshes = 0;
    const peer = ours.add(
      { ...BASE, routerId: US, peerAddress: "127.0.20.13", passive: true },
      { routeRefresh: () => void refreshes++ },
    );
    const bird = await startBird("refresh", {
      addr: "127.0.20.13",
      peer: { addr: US, port: 179, asn: 64512 },
      routes: ["198.18.14.0/24"],
    });
    birds.push(bird);
    await waitFor(() => peer.rib.count("ipv4") === 1, 20_000, "a route from BIRD");
    const before = peer.updatesIn;
    expect(peer.requestRefresh("ipv4")).toBe(true);
    await waitFor(() => peer.updatesIn > before, 10_000, "BIRD to re-send its routes");
    expect(peer.rib.count("ipv4")).toBe(1);
    bird.birdc("reload", "in", "ours");
    await waitFor(() => refreshes > 0, 10_000, "BIRD's ROUTE-REFRESH");
    expect(peer.session.state).toBe("Established");
  });

  it("graceful restart: BIRD killed keeps its routes stale; back without forwarding state, only what it re-sends stays", async () => {
    await setup();
    const downs: boolean[] = [];
    const peer = ours.add(
      { ...BASE, routerId: US, peerAddress: "127.0.20.14", passive: true },
      { down: (_p, _r, gr) => void downs.push(gr) },
    );
    const opts = {
      addr: "127.0.20.14",
      peer: { addr: US, port: 179, asn: 64512 },
      gracefulRestart: true,
      routes: ["198.18.15.0/24", "198.18.16.0/24"],
    };
    let bird = await startBird("gr", opts);
    birds.push(bird);
    await waitFor(() => peer.rib.count("ipv4") === 2, 20_000, "two routes from BIRD");
    expect(peer.session.negotiated?.gracefulRestart).toBeDefined();
    await bird.stop("SIGKILL");
    await waitFor(() => downs.length === 1, 10_000, "the session to drop");
    expect(downs).toEqual([true]);
    expect(peer.rib.count("ipv4")).toBe(2); // kept, stale
    expect([...peer.rib.views()].every((r) => r.stale)).toBe(true);
    bird = await startBird("gr-back", { ...opts, routes: ["198.18.15.0/24"] });
    birds.push(bird);
    await waitFor(() => peer.session.state === "Established", 30_000, "BIRD to come back");
    // BIRD restarted without a kernel table keeps no forwarding state (F bit clear): RFC 4724 §4.2
    // has us drop its stale routes at once; it then re-sends what it has, and End-of-RIB.
    expect(peer.session.negotiated?.gracefulRestart?.families).toEqual([
      { family: "ipv4", forwarding: false },
    ]);
    await waitFor(() => peer.rib.count("ipv4") === 1, 20_000, "the stale route to be swept");
    expect([...peer.rib.views()].map((r) => [r.prefix, r.stale])).toEqual([["198.18.15.0/24", false]]);
    await waitFor(() => peer.endOfRib.ipv4 === 2, 10_000, "BIRD's second End-of-RIB");
  });

  it("a session carrying IPv6 over ::1", async () => {
    ours = new Ours("::1");
    await ours.listen(2179);
    const peer = ours.add({
      ...BASE,
      routerId: "127.0.20.1",
      peerAddress: "::1",
      peerPort: 2180,
      passive: true,
    });
    birds.push(
      await startBird("ipv6", {
        addr: "::1",
        port: 2180,
        routerId: "127.0.20.16",
        peer: { addr: "::1", port: 2179, asn: 64512 },
        routes: ["2001:db8:16::/48"],
        nextHop: "2001:db8:ffff::16",
      }),
    );
    await waitFor(() => peer.rib.count("ipv6") === 1, 20_000, "an IPv6 route from BIRD");
    const r = [...peer.rib.views("ipv6")][0]!;
    expect(r.prefix).toBe("2001:db8:16::/48");
    expect(r.attrs.attributes.mpReach?.nextHop[0]).toBe("2001:db8:ffff::16");
  });
});

afterAll(async () => {
  for (const b of birds) await b.stop();
});
