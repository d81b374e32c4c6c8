// Calico nodes as they really run: BIRD 1.6 (the base of calico/node's fork) with the
// configuration calico/node's confd renders for a node that peers with a reflector
// (projectcalico/calico confd/tests/compiled_templates/explicit_peering: its bgp_template with
// `add paths on`, `graceful restart`, `connect delay time 2`, `connect retry time 5`, `error wait
// time 5,30`; a Node_ protocol with `source address`, `ttl security off`, `multihop`, the
// password, confd's import filter and its export filter ending in calico_export_to_bgp_peers;
// the node's IPAM block and a service address as the static blackhole routes confd writes).
// One change, for this machine: the export filter sets a TEST-NET next hop (a loopback one is
// refused by other speakers). Our reflector runs in node mode on a file datastore: the
// canonical recipe (a BGPPeer from every node to `route-reflector == 'true'`), its password from
// a Secret, a BGPFilter on the peerings, IP pools, a service range and a prefix advertisement.
//
// Checked: every node holds every other node's block, with the community the BGPFilter's export
// rule adds; the filter's import rule keeps a node's other prefix from everyone; a route in a pool
// with disableBGPExport goes nowhere (calico/node's default export); a service address two nodes
// advertise reaches the third over both paths (ADD-PATH, ECMP), with the prefix advertisement's
// community (no BGPFilter rule decides it, so the default export does, and adds it); the sessions
// are signed (BIRD sets TCP MD5 on its side, so an unsigned session never comes up); a node
// killed and restarted, and the reflector restarted (SIGTERM, a new process 2 s later), cost no
// node a route at any sample. Addresses 127.0.55.x.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { calicoNodePeer, calicoNodePreamble } from "../helpers/calico-node.js";
import { Daemon } from "../helpers/cli.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";

const RR = "127.0.55.1";
const AS = 64512;
const PASSWORD = "calico-md5";
const POOL = "198.18.0.0/15";
const SERVICE = "198.19.70.10/32";
const FILTERED = "198.19.99.0/26";
/** in an IP pool with disableBGPExport (node 2 sends it, as a node with an older view would) */
const QUIET = "198.19.88.0/26";
const NODES = [0, 1, 2].map((i) => ({
  name: `node-${i}`,
  ip: `127.0.55.${11 + i}`,
  nextHop: `203.0.113.${55 + i}`,
  block: `198.18.55.${64 * i}/26`,
  /** node 0 and 1 advertise the service address; node 2 prefixes the reflector stops */
  extra: i < 2 ? [SERVICE] : [FILTERED, QUIET],
}));

/** What calico/node's confd renders for the node (test/helpers/calico-node.ts), its block and extra routes. */
const nodeConfig = (n: (typeof NODES)[number]) => (dir: string) => {
  const node = { ip: n.ip, as: AS, nextHop: n.nextHop, pool: POOL, service: SERVICE };
  return `${calicoNodePreamble(node, dir)}
# bird_aggr.cfg
protocol static {
   # IP blocks for this host.
${[n.block, ...n.extra].map((r) => `   route ${r} blackhole;`).join("\n")}
}
${calicoNodePeer(node, { kind: "Node", address: RR, password: PASSWORD })}`;
};

/** The reflector's datastore: the canonical recipe, the password in a Secret, a BGPFilter. */
function datastore(dir: string): string {
  const calico = (kind: string, name: string, spec: object, labels?: object) => ({
    apiVersion: "projectcalico.org/v3",
    kind,
    metadata: { name, ...(labels ? { labels } : {}) },
    spec,
  });
  const items = [
    calico("BGPConfiguration", "default", {
      asNumber: AS,
      nodeToNodeMeshEnabled: false,
      serviceClusterIPs: [{ cidr: "198.19.70.0/24" }],
      prefixAdvertisements: [{ cidr: "198.19.70.0/24", communities: ["64512:70"] }],
    }),
    calico("IPPool", "default-ipv4-ippool", { cidr: "198.18.0.0/16" }),
    calico("IPPool", "quiet", { cidr: "198.19.88.0/24", disableBGPExport: true }),
    calico(
      "Node",
      "rr",
      { bgp: { ipv4Address: `${RR}/24`, routeReflectorClusterID: "224.0.0.1" } },
      { "route-reflector": "true" },
    ),
    ...NODES.map((n) => calico("Node", n.name, { bgp: { ipv4Address: `${n.ip}/24` } })),
    calico("BGPPeer", "peer-with-route-reflectors", {
      nodeSelector: "all()",
      peerSelector: "route-reflector == 'true'",
      password: { secretKeyRef: { name: "bgp-secrets", key: "rr-password" } },
      filters: ["blocks"],
    }),
    calico("BGPFilter", "blocks", {
      importV4: [{ action: "Reject", cidr: "198.19.99.0/24", matchOperator: "In" }],
      exportV4: [
        {
          action: "Accept",
          cidr: "198.18.55.0/24",
          matchOperator: "In",
          prefixLength: { min: 26, max: 26 },
          operations: [{ addCommunity: { value: "64512:55" } }],
        },
      ],
    }),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "bgp-secrets", namespace: "kube-system" },
      stringData: { "rr-password": PASSWORD },
    },
  ];
  const file = join(dir, "calico.json");
  writeFileSync(file, JSON.stringify({ kind: "List", items }));
  return file;
}

/** A node's routes: prefix → the next hops of every path it holds, and their communities. */
function routes(b: Bird): Map<string, { nextHops: string[]; communities: string[] }> {
  const out = new Map<string, { nextHops: string[]; communities: string[] }>();
  let current: { nextHops: string[]; communities: string[] } | undefined;
  for (const line of b.birdc("show", "route", "all").split("\n")) {
    const m = /^(\d+\.\d+\.\d+\.\d+\/\d+)\s/.exec(line);
    if (m) {
      current = out.get(m[1]!) ?? { nextHops: [], communities: [] };
      out.set(m[1]!, current);
    }
    const nh = /BGP\.next_hop: (\S+)/.exec(line);
    if (nh && current) current.nextHops.push(nh[1]!);
    const c = /BGP\.community: (.*)$/.exec(line);
    if (c && current) current.communities.push(c[1]!.trim());
  }
  return out;
}

const established = (b: Bird) => b.protocol(`Node_${RR.replace(/\./g, "_")}`).info === "Established";

/** How many of the other nodes' blocks each node lacks now (a node that is down is not asked). */
function missing(birds: Bird[], down: Set<number>): number[] {
  return birds.map((b, i) => {
    if (down.has(i)) return 0;
    const held = routes(b);
    return NODES.filter((n, j) => j !== i && !held.has(n.block)).length;
  });
}

/** Samples until stopped; the most blocks any node lacked at one sample, and the samples taken. */
function sampler(birds: Bird[], down: Set<number>) {
  let running = true;
  let worst = 0;
  let samples = 0;
  const done = (async () => {
    while (running) {
      worst = Math.max(worst, ...missing(birds, down));
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { worst, samples };
    },
  };
}

let rr: Daemon;
let file: string;
const birds: Bird[] = [];

const whole = () => birds.every(established) && missing(birds, new Set()).every((n) => n === 0);

beforeAll(async () => {
  file = datastore(workdir("calico-nodes"));
  rr = new Daemon({ IP: RR, NODENAME: "rr", DATASTORE_FILE: file });
  const peer = { addr: RR, port: 179, asn: AS };
  for (const n of NODES)
    birds.push(
      // -R: calico/node runs `bird -R` (its runit service), so a restarted node keeps its
      // forwarding state and we keep its routes until its End-of-RIB (RFC 4724 §4.2); without -R
      // BIRD clears the F bit and its routes go at once, until it sends them again: most likely
      // the gap a 100 ms sample caught once in a clean-clone run
      await startBird(`calico-${n.name}`, {
        addr: n.ip,
        peer,
        bird1: true,
        recovery: true,
        configText: nodeConfig(n),
      }),
    );
  await waitFor(whole, 60_000, "every node Established and holding every block");
}, 90_000);

afterAll(async () => {
  await Promise.all([rr?.stop("SIGKILL"), ...birds.map((b) => b.stop())]);
});

describe("BIRD 1.6 nodes with calico/node's rendered configuration, behind our reflector", () => {
  it("reflects every block, with the community the BGPFilter adds; the filtered prefix reaches no one", () => {
    for (const [i, b] of birds.entries()) {
      const held = routes(b);
      for (const [j, n] of NODES.entries()) {
        if (j === i) continue;
        expect(held.get(n.block)?.nextHops, `${NODES[i]!.name} holds ${n.block}`).toEqual([n.nextHop]);
        expect(held.get(n.block)?.communities).toEqual(["(64512,55)"]);
      }
      if (i !== 2) expect(held.has(FILTERED)).toBe(false);
      if (i !== 2) expect(held.has(QUIET)).toBe(false);
    }
  });

  it("a service address two nodes advertise reaches the third over both paths (ADD-PATH)", async () => {
    await waitFor(() => (routes(birds[2]!).get(SERVICE)?.nextHops.length ?? 0) >= 2, 10_000, "both paths");
    expect(routes(birds[2]!).get(SERVICE)?.nextHops.sort()).toEqual([NODES[0]!.nextHop, NODES[1]!.nextHop]);
    // not the filter's community (its rule is for 198.18.55.0/24 at /26): the default export's
    // prefix advertisement for the service range, on each path
    expect(routes(birds[2]!).get(SERVICE)?.communities).toEqual(["(64512,70)", "(64512,70)"]);
  });

  it("the sessions are signed with the password from the Secret", () => {
    // BIRD 1.6 with `password` puts TCP MD5 on its sockets: an unsigned session never comes up
    expect(birds.every(established)).toBe(true);
    expect(rr.logged("peer added").map((l) => l.peer)).toEqual(
      expect.arrayContaining(NODES.map((n) => n.ip)),
    );
  });

  it("a node killed and restarted: the others keep its block throughout (graceful restart)", async () => {
    const down = new Set([0]);
    const s = sampler(birds, down);
    await birds[0]!.stop("SIGKILL");
    await new Promise((r) => setTimeout(r, 2000));
    birds[0]!.start();
    await waitFor(
      () => {
        try {
          return whole();
        } catch {
          return false; // its control socket is not there yet
        }
      },
      60_000,
      "node-0 back and every table whole",
    );
    down.clear();
    await new Promise((r) => setTimeout(r, 1000));
    const { worst, samples } = await s.stop();
    expect(samples).toBeGreaterThan(10);
    expect(worst).toBe(0);
  }, 90_000);

  it("the reflector restarted (SIGTERM, a new process 2 s later): no node lacks a block at any sample", async () => {
    const s = sampler(birds, new Set());
    await rr.stop("SIGTERM");
    await new Promise((r) => setTimeout(r, 2000));
    rr = new Daemon({ IP: RR, NODENAME: "rr", DATASTORE_FILE: file });
    await waitFor(
      () => rr.logged("selection deferral over: every peer's routes are in; tables sent").length > 0,
      60_000,
      "the new reflector's deferral over",
    );
    await waitFor(whole, 60_000, "every node whole again");
    await new Promise((r) => setTimeout(r, 2000));
    const { worst, samples } = await s.stop();
    expect(samples).toBeGreaterThan(10);
    expect(worst).toBe(0);
  }, 120_000);
});
