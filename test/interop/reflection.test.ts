// Our reflector with real BIRD 2, GoBGP, FRR and ExaBGP clients at once. Each announces a route
// with communities, a large community and a MED (ExaBGP also an unknown transitive attribute);
// every client must end with every other client's route, ORIGINATOR_ID and CLUSTER_LIST right;
// withdrawals and session loss must propagate.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Listener } from "../../src/fsm/index.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { BASE, type Bird, LabSpeaker, labRoutes, startBird, waitFor } from "../helpers/lab.js";

const US = "127.0.30.1";
const CLUSTER = "203.0.113.250";
const ADDR = {
  bird: "127.0.30.11",
  gobgp: "127.0.30.12",
  frr: "127.0.30.13",
  exabgp: "127.0.30.14",
} as const;
const PREFIX = {
  bird: "198.18.31.0/24",
  gobgp: "198.18.32.0/24",
  frr: "198.18.33.0/24",
  exabgp: "198.18.34.0/24",
} as const;
type Kind = keyof typeof ADDR;
const KINDS = Object.keys(ADDR) as Kind[];

let rr: Reflector;
let listener: Listener;
let bird: Bird;
const lab: Partial<Record<Exclude<Kind, "bird">, LabSpeaker>> = {};
const dirOf = (k: Kind) => (k === "bird" ? bird.dir : lab[k]!.dir);

beforeAll(async () => {
  rr = new Reflector({ routerId: US, localAs: 64512, clusterId: CLUSTER });
  listener = new Listener((addr) => rr.peer(addr)?.session);
  await listener.listen(179, US);
  for (const k of KINDS)
    rr.addPeer({
      ...BASE,
      routerId: US,
      clusterId: CLUSTER,
      peerAddress: ADDR[k],
      localAddress: US,
      passive: true,
    });
  bird = await startBird("rr-client", {
    addr: ADDR.bird,
    peer: { addr: US, port: 179, asn: 64512 },
    routes: [PREFIX.bird],
    exportAttrs: "bgp_community.add((64512,1)); bgp_large_community.add((64512,1,1)); bgp_med = 10;",
  });
  const env = { PEERS: US, CONNECT_RETRY: "1" };
  lab.gobgp = LabSpeaker.start("start-gobgp-rr.sh", ADDR.gobgp, env);
  lab.frr = LabSpeaker.start("start-frr-rr.sh", ADDR.frr, { ...env, ROUTES: PREFIX.frr });
  lab.exabgp = LabSpeaker.start("start-exabgp.sh", ADDR.exabgp, env);
  await waitFor(
    () => KINDS.every((k) => rr.peer(ADDR[k])!.session.state === "Established"),
    30_000,
    "all four sessions",
  );
  lab.gobgp.run(
    "gobgp",
    ...`global rib add ${PREFIX.gobgp} nexthop 203.0.113.12 community 64512:2 large-community 64512:2:2 med 20 -a ipv4`.split(
      " ",
    ),
  );
  lab.frr.run(
    "vtysh",
    "-c",
    "configure terminal",
    "-c",
    "route-map ORIGINATE permit 10",
    "-c",
    "set community 64512:3",
    "-c",
    "set large-community 64512:3:3",
    "-c",
    "set metric 30",
    "-c",
    "end",
    "-c",
    "clear bgp ipv4 unicast * soft out",
  );
  lab.exabgp.run(
    "exacmd",
    ...`announce route ${PREFIX.exabgp} next-hop 203.0.113.14 community [64512:4] large-community [64512:4:4] med 40 attribute [0xf0 0xc0 0xabcd]`.split(
      " ",
    ),
  );
}, 90_000);

afterAll(async () => {
  for (const s of Object.values(lab)) s.stop();
  await bird?.stop();
  rr?.stop();
  await listener?.close();
});

function holds(k: Kind, prefix: string) {
  return labRoutes(k, dirOf(k)).find((r) => r.prefix === prefix);
}

describe("reflection to real clients", () => {
  it("every client holds every other client's route, with the originator's ORIGINATOR_ID and our CLUSTER_LIST", async () => {
    for (const to of KINDS) {
      for (const from of KINDS.filter((k) => k !== to)) {
        await waitFor(() => holds(to, PREFIX[from]) !== undefined, 30_000, `${from}'s route at ${to}`);
        const r = holds(to, PREFIX[from])!;
        expect([r.originator_id, r.cluster_list, r.next_hop], `${from} -> ${to}`).toEqual([
          ADDR[from],
          [CLUSTER],
          `203.0.113.${ADDR[from].split(".")[3]}`,
        ]);
      }
    }
  });

  it("communities, large communities, MED and the unknown transitive attribute arrive unchanged (read from GoBGP)", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: GoBGP's JSON
    let rib: Record<string, any[]> = {};
    const read = () => {
      rib = JSON.parse(lab.gobgp!.run("gobgp", "global", "rib", "-a", "ipv4", "-j"));
    };
    // FRR applies its changed route-map on its own schedule: wait until its route carries it.
    await waitFor(
      () => {
        read();
        return JSON.stringify(rib[PREFIX.frr] ?? "").includes('"metric":30');
      },
      30_000,
      "FRR's route with the route-map's attributes",
    );
    // biome-ignore lint/suspicious/noExplicitAny: GoBGP's JSON
    const attrs = (prefix: string) => rib[prefix]![0].attrs as any[];
    const byType = (prefix: string, t: number) => attrs(prefix).find((a) => a.type === t);
    const community = (hi: number, lo: number) => hi * 65536 + lo;
    for (const [k, n] of [
      ["bird", 1],
      ["frr", 3],
      ["exabgp", 4],
    ] as const) {
      expect(byType(PREFIX[k], 8)?.communities, k).toEqual([community(64512, n)]);
      expect(byType(PREFIX[k], 4)?.metric, k).toBe(n * 10);
      expect(byType(PREFIX[k], 32)?.value, k).toEqual([{ ASN: 64512, LocalData1: n, LocalData2: n }]);
    }
    const unknown = byType(PREFIX.exabgp, 240);
    expect(unknown, JSON.stringify(attrs(PREFIX.exabgp))).toBeDefined();
    expect(unknown.flags & 0xe0).toBe(0xe0); // optional, transitive, and now Partial (RFC 4271 §5)
  });

  it("a withdrawal propagates to every other client", async () => {
    lab.exabgp!.run("exacmd", "withdraw", "route", PREFIX.exabgp, "next-hop", "203.0.113.14");
    for (const to of KINDS.filter((k) => k !== "exabgp")) {
      await waitFor(() => holds(to, PREFIX.exabgp) === undefined, 30_000, `the withdrawal at ${to}`);
    }
  });

  it("a lost session takes its routes away from the others", async () => {
    lab.gobgp!.stop();
    delete lab.gobgp;
    for (const to of KINDS.filter((k) => k !== "gobgp" && k !== "exabgp")) {
      await waitFor(() => holds(to, PREFIX.gobgp) === undefined, 30_000, `GoBGP's route gone at ${to}`);
    }
  });
});
