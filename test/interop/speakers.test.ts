// Sessions with real GoBGP, FRR and ExaBGP processes on loopback addresses, started through
// ../shared/lab's scripts: both connection directions, hold time, routes, route refresh.
import { afterEach, describe, expect, it } from "vitest";
import { BASE, LabSpeaker, Ours, waitFor } from "../helpers/lab.js";

const US = "127.0.21.1";
let ours: Ours | undefined;
let speaker: LabSpeaker | undefined;

afterEach(async () => {
  speaker?.stop();
  speaker = undefined;
  await ours?.close();
  ours = undefined;
});

interface Kind {
  name: string;
  script: string;
  addr: string;
  /** the lab's config announces route refresh */
  routeRefresh: boolean;
  /** asks the speaker to send us a ROUTE-REFRESH, when it can be told to */
  refreshUs?: (s: LabSpeaker) => void;
}

const KINDS: Kind[] = [
  // GoBGP keeps its own Adj-RIB-In: 'softresetin' re-applies policy to it and sends no ROUTE-REFRESH.
  { name: "GoBGP", script: "start-gobgp-rr.sh", addr: "127.0.21.12", routeRefresh: true },
  {
    name: "FRR",
    script: "start-frr-rr.sh",
    addr: "127.0.21.13",
    routeRefresh: true,
    refreshUs: (s) => s.run("vtysh", "-c", `clear bgp ipv4 unicast ${US} soft in`),
  },
  { name: "ExaBGP", script: "start-exabgp.sh", addr: "127.0.21.14", routeRefresh: false },
];

for (const kind of KINDS) {
  describe(kind.name, () => {
    for (const direction of ["they connect", "we connect"] as const) {
      it(`${direction}: Established with hold time 9 s, and its route arrives`, async () => {
        ours = new Ours(US);
        await ours.listen();
        const peer = ours.add({
          ...BASE,
          routerId: US,
          peerAddress: kind.addr,
          passive: direction === "they connect",
        });
        speaker = LabSpeaker.start(kind.script, kind.addr, {
          PEERS: US,
          HOLD_TIME: "9",
          CONNECT_RETRY: "1",
          PASSIVE: direction === "we connect" ? "1" : "0",
          ROUTES: "198.18.21.0/24",
        });
        await waitFor(() => peer.rib.count("ipv4") === 1, 30_000, `a route from ${kind.name}`);
        expect(peer.session.negotiated).toMatchObject({ holdTime: 9, asn4: true });
        const route = [...peer.rib.views("ipv4")][0]!;
        expect(route.prefix).toBe("198.18.21.0/24");
        expect(route.attrs.attributes.nextHop).toBe(`203.0.113.${kind.addr.split(".")[3]}`);
      });
    }

    const refreshTitle = kind.routeRefresh
      ? `route refresh: we ask and it re-sends${kind.refreshUs ? "; it asks and we hear it" : ""}`
      : "no route refresh capability announced, so we send no ROUTE-REFRESH (RFC 2918 §4)";
    it(refreshTitle, async () => {
      ours = new Ours(US);
      await ours.listen();
      let refreshes = 0;
      const peer = ours.add(
        { ...BASE, routerId: US, peerAddress: kind.addr, passive: true },
        { routeRefresh: () => void refreshes++ },
      );
      speaker = LabSpeaker.start(kind.script, kind.addr, {
        PEERS: US,
        CONNECT_RETRY: "1",
        ROUTES: "198.18.22.0/24",
      });
      await waitFor(() => peer.rib.count("ipv4") === 1, 30_000, `a route from ${kind.name}`);
      expect(peer.session.negotiated?.routeRefresh).toBe(kind.routeRefresh);
      if (!kind.routeRefresh) {
        expect(peer.requestRefresh("ipv4")).toBe(false);
        return;
      }
      const before = peer.updatesIn;
      expect(peer.requestRefresh("ipv4")).toBe(true);
      await waitFor(() => peer.updatesIn > before, 15_000, `${kind.name} to re-send its routes`);
      expect(peer.rib.count("ipv4")).toBe(1);
      if (kind.refreshUs) {
        kind.refreshUs(speaker);
        await waitFor(() => refreshes > 0, 15_000, `${kind.name}'s ROUTE-REFRESH`);
      }
      expect(peer.session.state).toBe("Established");
    });
  });
}
