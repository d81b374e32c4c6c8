// Peering computation: the rules of shared/calico-datamodel.md §1.3 and §5, as tables of which
// sessions a reflector runs for the topologies Calico users build.
import { describe, expect, it } from "vitest";
import {
  computePeerings,
  type Identity,
  type PeerSpec,
  type Snapshot,
} from "../../src/datastore/peerings.js";
import { parseReflectorEntry, parseResource, type Resource } from "../../src/datastore/resources.js";

interface NodeOpts {
  v4?: string;
  v6?: string;
  as?: number;
  cluster?: string;
  labels?: Record<string, string>;
}
const node = (name: string, o: NodeOpts) => ({
  kind: "Node",
  apiVersion: "projectcalico.org/v3",
  metadata: { name, labels: o.labels ?? {} },
  spec: {
    bgp: {
      ...(o.v4 ? { ipv4Address: `${o.v4}/16` } : {}),
      ...(o.v6 ? { ipv6Address: `${o.v6}/64` } : {}),
      ...(o.as ? { asNumber: o.as } : {}),
      ...(o.cluster ? { routeReflectorClusterID: o.cluster } : {}),
    },
  },
});
const peer = (name: string, spec: object) => ({ kind: "BGPPeer", metadata: { name }, spec });
const config = (name: string, spec: object) => ({ kind: "BGPConfiguration", metadata: { name }, spec });

function snapshot(
  objects: object[],
  rr: { ip: string; cluster_id?: string; mesh?: string }[] = [],
): Snapshot {
  const s = {
    nodes: new Map(),
    peers: new Map(),
    configs: new Map(),
    filters: new Map(),
    pools: new Map(),
    reflectors: new Map(),
  };
  for (const o of objects) {
    const r: Resource = parseResource(o, "test");
    const map =
      r.kind === "Node"
        ? s.nodes
        : r.kind === "BGPPeer"
          ? s.peers
          : r.kind === "BGPFilter"
            ? s.filters
            : r.kind === "IPPool"
              ? s.pools
              : s.configs;
    map.set(r.name, r);
  }
  for (const e of rr) {
    const r = parseReflectorEntry(e, `rr/${e.ip}`, e.ip.includes(":") ? 6 : 4);
    s.reflectors.set(r.name, r);
  }
  return s;
}

/** The warnings but the one about no IP pools (these snapshots have none, as most tests here). */
const withoutPoolWarning = (ws: string[]) => ws.filter((w) => !w.startsWith("no IPPool in the datastore"));

/** A compact row per session: name, type, peer AS, client flag, passive flag. */
const rows = (peers: PeerSpec[]) =>
  peers.map(
    (p) =>
      `${p.name} ${p.type} as${p.peerAs}${p.rrClient ? ` client:${p.clusterId}` : ""}${p.passive ? " passive" : ""}`,
  );

const RR_LABEL = { "route-reflector": "true" };

describe("two reflectors: nodeSelector !has(route-reflector) / peerSelector has(route-reflector)", () => {
  const snap = snapshot([
    config("default", { nodeToNodeMeshEnabled: false, asNumber: 64512 }),
    node("rr1", { v4: "100.64.0.1", cluster: "224.0.0.1", labels: RR_LABEL }),
    node("rr2", { v4: "100.64.0.2", cluster: "224.0.0.1", labels: RR_LABEL }),
    node("n1", { v4: "100.64.1.1" }),
    node("n2", { v4: "100.64.1.2" }),
    node("n3", { v4: "100.64.1.3" }),
    peer("peer-with-rrs", { nodeSelector: "!has(route-reflector)", peerSelector: "has(route-reflector)" }),
    peer("rr-mesh", { nodeSelector: "has(route-reflector)", peerSelector: "has(route-reflector)" }),
  ]);

  it("a NODENAME that names no Node: legacy mode, with a warning that says so", () => {
    const p = computePeerings(snap, { nodeName: "rr-typo", ip: "100.64.0.9" });
    expect(p.mode).toBe("legacy");
    expect(p.warnings).toContain(
      "NODENAME rr-typo: no Calico Node of that name; running as a legacy reflector",
    );
    expect(withoutPoolWarning(computePeerings(snap, { nodeName: "rr1" }).warnings)).toEqual([]);
  });

  it("rr1 reflects to every node and peers with rr2 as a non-client of the same cluster", () => {
    const p = computePeerings(snap, { nodeName: "rr1" });
    expect(p).toMatchObject({
      mode: "node",
      node: "rr1",
      localAs: 64512,
      clusterId: "224.0.0.1",
      routerId: "100.64.0.1",
    });
    expect(rows(p.peers)).toEqual([
      "Node_100_64_0_2 node specific as64512",
      "Node_100_64_1_1 node specific as64512 client:224.0.0.1",
      "Node_100_64_1_2 node specific as64512 client:224.0.0.1",
      "Node_100_64_1_3 node specific as64512 client:224.0.0.1",
    ]);
    // reverse peerings are never passive; the reflector binds to its node address
    expect(p.peers.every((s) => !s.passive && s.sourceAddress === "100.64.0.1" && s.port === 179)).toBe(true);
  });

  it("found by IP when NODENAME is not given", () => {
    expect(computePeerings(snap, { ip: "100.64.0.2" })).toMatchObject({ mode: "node", node: "rr2" });
  });

  it("a client node peers with both reflectors, not as a reflector", () => {
    const p = computePeerings(snap, { nodeName: "n2" });
    expect(rows(p.peers)).toEqual([
      "Node_100_64_0_1 node specific as64512",
      "Node_100_64_0_2 node specific as64512",
    ]);
  });
});

describe("per-rack cluster IDs with a full mesh of reflectors", () => {
  const rack = (r: string, rr = false) => ({ rack: r, ...(rr ? RR_LABEL : {}) });
  const snap = snapshot([
    config("default", { nodeToNodeMeshEnabled: false }),
    node("rr-a1", { v4: "100.64.10.1", cluster: "224.0.0.10", labels: rack("a", true) }),
    node("rr-a2", { v4: "100.64.10.2", cluster: "224.0.0.10", labels: rack("a", true) }),
    node("rr-b1", { v4: "100.64.20.1", cluster: "224.0.0.20", labels: rack("b", true) }),
    node("rr-b2", { v4: "100.64.20.2", cluster: "224.0.0.20", labels: rack("b", true) }),
    node("a-n1", { v4: "100.64.11.1", labels: rack("a") }),
    node("a-n2", { v4: "100.64.11.2", labels: rack("a") }),
    node("b-n1", { v4: "100.64.21.1", labels: rack("b") }),
    peer("rack-a", {
      nodeSelector: "rack == 'a' && !has(route-reflector)",
      peerSelector: "rack == 'a' && has(route-reflector)",
    }),
    peer("rack-b", {
      nodeSelector: "rack == 'b' && !has(route-reflector)",
      peerSelector: "rack == 'b' && has(route-reflector)",
    }),
    peer("rr-mesh", { nodeSelector: "has(route-reflector)", peerSelector: "has(route-reflector)" }),
  ]);

  it("rr-a1: its rack's nodes are clients; its twin is not; the other rack's reflectors are clients", () => {
    expect(rows(computePeerings(snap, { nodeName: "rr-a1" }).peers)).toEqual([
      "Node_100_64_10_2 node specific as64512",
      "Node_100_64_11_1 node specific as64512 client:224.0.0.10",
      "Node_100_64_11_2 node specific as64512 client:224.0.0.10",
      "Node_100_64_20_1 node specific as64512 client:224.0.0.10",
      "Node_100_64_20_2 node specific as64512 client:224.0.0.10",
    ]);
  });

  it("rr-b2 sees rack b only, and rack a's reflectors as clients of 224.0.0.20", () => {
    expect(rows(computePeerings(snap, { nodeName: "rr-b2" }).peers)).toEqual([
      "Node_100_64_10_1 node specific as64512 client:224.0.0.20",
      "Node_100_64_10_2 node specific as64512 client:224.0.0.20",
      "Node_100_64_20_1 node specific as64512",
      "Node_100_64_21_1 node specific as64512 client:224.0.0.20",
    ]);
  });
});

describe("confd's explicit_peering/route_reflector example", () => {
  // confd/tests/mock_data/calicoctl/explicit_peering/route_reflector, with our addresses.
  const snap = snapshot([
    config("default", { nodeToNodeMeshEnabled: false, asNumber: 64532 }),
    node("kube-master", { v4: "100.64.0.2", cluster: "224.0.0.5", labels: { routeReflector: "" } }),
    node("kube-node-1", { v4: "100.64.0.3" }),
    node("kube-node-2", { v4: "100.64.0.4" }),
    peer("rr", { nodeSelector: "has(routeReflector)", peerSelector: "!has(routeReflector)" }),
    peer("edge", { node: "kube-master", peerIP: "203.0.113.87", asNumber: 64533 }),
  ]);

  it("iBGP nodes are clients, the eBGP router is external and never a client", () => {
    const p = computePeerings(snap, { nodeName: "kube-master" });
    expect(rows(p.peers)).toEqual([
      "Node_100_64_0_3 node specific as64532 client:224.0.0.5",
      "Node_100_64_0_4 node specific as64532 client:224.0.0.5",
      "Node_203_0_113_87 external as64533",
    ]);
    expect(p.peers.find((s) => s.type === "external")).toMatchObject({ localAs: 64532, passive: false });
  });

  it("the client nodes get the reverse peering, active and not as clients", () => {
    expect(rows(computePeerings(snap, { nodeName: "kube-node-1" }).peers)).toEqual([
      "Node_100_64_0_2 node specific as64532",
    ]);
  });
});

describe("the canonical recipe: global peerSelector route-reflector == 'true'", () => {
  const snap = snapshot([
    config("default", { nodeToNodeMeshEnabled: false }),
    node("rr1", { v4: "100.64.0.1", v6: "2001:db8::1", cluster: "224.0.0.1", labels: RR_LABEL }),
    node("rr2", { v4: "100.64.0.9", v6: "2001:db8::9", cluster: "224.0.0.1", labels: RR_LABEL }),
    node("n1", { v4: "100.64.1.1", v6: "2001:db8::1:1" }),
    node("n2", { v4: "100.64.1.2" }),
    peer("peer-with-route-reflectors", { nodeSelector: "all()", peerSelector: "route-reflector == 'true'" }),
  ]);

  it("the reflector peers with all nodes in both families, and with rr2 as a non-client", () => {
    const p = computePeerings(snap, { nodeName: "rr1" });
    expect(rows(p.peers)).toEqual([
      "Node_100_64_0_9 node specific as64512",
      "Node_100_64_1_1 node specific as64512 client:224.0.0.1",
      "Node_100_64_1_2 node specific as64512 client:224.0.0.1",
      "Node_2001_db8__1_1 node specific as64512 client:224.0.0.1",
      "Node_2001_db8__9 node specific as64512",
    ]);
    expect(p.peers.find((s) => s.address === "2001:db8::1:1")?.sourceAddress).toBe("2001:db8::1");
  });

  it("without nodeSelector the peering is global: passive towards the higher address", () => {
    const global = snapshot([
      node("rr1", { v4: "100.64.0.1", cluster: "224.0.0.1", labels: RR_LABEL }),
      node("rr2", { v4: "100.64.0.9", cluster: "224.0.0.1", labels: RR_LABEL }),
      node("n1", { v4: "100.64.1.1" }),
      peer("peer-with-route-reflectors", { peerSelector: "route-reflector == 'true'" }),
    ]);
    expect(rows(computePeerings(global, { nodeName: "rr1" }).peers)).toEqual([
      "Global_100_64_0_9 global as64512 passive",
      "Node_100_64_1_1 node specific as64512 client:224.0.0.1",
    ]);
    expect(rows(computePeerings(global, { nodeName: "rr2" }).peers)).toEqual([
      "Global_100_64_0_1 global as64512",
      "Node_100_64_1_1 node specific as64512 client:224.0.0.1",
    ]);
  });
});

describe("node-to-node mesh", () => {
  const base = [
    node("n1", { v4: "100.64.0.30" }),
    node("n2", { v4: "100.64.0.100", as: 64600 }),
    node("n3", { v4: "100.64.0.40" }),
    node("rr", { v4: "100.64.0.3", cluster: "224.0.0.1" }),
    config("node.n3", { listenPort: 1179 }),
  ];

  it("a node meshes with the others but not with reflectors; passive towards higher addresses", () => {
    const p = computePeerings(snapshot(base), { nodeName: "n1" });
    expect(rows(p.peers)).toEqual([
      "Mesh_100_64_0_100 node-to-node mesh as64600",
      "Mesh_100_64_0_40_port_1179 node-to-node mesh as64512 passive",
    ]);
    // "100.64.0.100" < "100.64.0.30" as strings, so n1 connects to n2 although 100 > 30
    expect(p.peers.find((s) => s.address === "100.64.0.40")?.port).toBe(1179);
  });

  it("a reflector does not mesh", () => {
    expect(computePeerings(snapshot(base), { nodeName: "rr" }).peers).toEqual([]);
  });

  it("nodeToNodeMeshEnabled: false turns it off", () => {
    const p = computePeerings(snapshot([...base, config("default", { nodeToNodeMeshEnabled: false })]), {
      nodeName: "n1",
    });
    expect(p.peers).toEqual([]);
  });

  it("the mesh password and restart time come from the default BGPConfiguration", () => {
    const snap = snapshot([
      ...base,
      config("default", {
        nodeMeshPassword: { secretKeyRef: { name: "bgp", key: "mesh" } },
        nodeMeshMaxRestartTime: "3m",
      }),
    ]);
    const p = computePeerings(snap, { nodeName: "n1" }, (ref) => (ref.key === "mesh" ? "s3cret" : undefined));
    expect(p.peers.map((s) => [s.password, s.restartTime])).toEqual([
      ["s3cret", 180],
      ["s3cret", 180],
    ]);
  });
});

describe("BGPPeer rules on a reflector node", () => {
  const nodes = [
    config("default", { nodeToNodeMeshEnabled: false, asNumber: 64512, listenPort: 1179 }),
    node("rr", { v4: "100.64.0.1", cluster: "224.0.0.1", labels: RR_LABEL }),
    node("n1", { v4: "100.64.1.1", labels: { zone: "east" } }),
    node("n2", { v4: "100.64.1.2", labels: { zone: "west" }, as: 64513 }),
  ];

  it("a global peerIP peer, a node-specific one for the same IP is suppressed", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("g", { peerIP: "203.0.113.1", asNumber: 64512 }),
        peer("s", { node: "rr", peerIP: "203.0.113.1", asNumber: 65000 }),
      ]),
      { nodeName: "rr" },
    );
    expect(rows(p.peers.filter((s) => s.address === "203.0.113.1"))).toEqual([
      "Global_203_0_113_1 external as64512 client:224.0.0.1",
    ]);
  });

  it("first writer wins, in name order", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("b-second", { node: "rr", peerIP: "203.0.113.2", asNumber: 65002 }),
        peer("a-first", { node: "rr", peerIP: "203.0.113.2", asNumber: 65001 }),
      ]),
      { nodeName: "rr" },
    );
    expect(p.peers.find((s) => s.address === "203.0.113.2")).toMatchObject({
      peerAs: 65001,
      from: "bgppeers/a-first",
    });
  });

  it("a peer with another AS is never a client; localASNumber makes it iBGP again", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("ebgp", { node: "rr", peerIP: "203.0.113.3", asNumber: 65003 }),
        peer("local-as", { node: "rr", peerIP: "203.0.113.4", asNumber: 65004, localASNumber: 65004 }),
      ]),
      { nodeName: "rr" },
    );
    expect(rows(p.peers.filter((s) => s.address.startsWith("203.")))).toEqual([
      "Node_203_0_113_3 external as65003",
      "Node_203_0_113_4 external as65004 client:224.0.0.1",
    ]);
    expect(p.peers.find((s) => s.address === "203.0.113.4")?.localAs).toBe(65004);
  });

  it("peerSelector peers take the node's AS, and the listen port of the cluster", () => {
    const p = computePeerings(snapshot([...nodes, peer("all", { node: "rr", peerSelector: "has(zone)" })]), {
      nodeName: "rr",
    });
    expect(rows(p.peers)).toEqual([
      "Node_100_64_1_1_port_1179 node specific as64512 client:224.0.0.1",
      "Node_100_64_1_2_port_1179 node specific as64513",
    ]);
    expect(p.listenPort).toBe(1179);
  });

  it("reversePeering: Manual stops the reverse peering", () => {
    const mk = (reversePeering: string) =>
      computePeerings(
        snapshot([
          ...nodes,
          peer("p", { nodeSelector: "zone == 'east'", peerSelector: "has(route-reflector)", reversePeering }),
        ]),
        { nodeName: "rr" },
      ).peers.map((s) => s.address);
    expect(mk("Auto")).toEqual(["100.64.1.1"]);
    expect(mk("Manual")).toEqual([]);
  });

  it("a peerIP BGPPeer at our address reverses onto the nodes it selects (nodesWithIPPortAndAS)", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("to-rr", { nodeSelector: "zone == 'west'", peerIP: "100.64.0.1", asNumber: 64512 }),
      ]),
      { nodeName: "rr" },
    );
    expect(rows(p.peers)).toEqual(["Node_100_64_1_2_port_1179 node specific as64513"]);
    // with another AS the IP does not match our node: no reverse peering
    const q = computePeerings(
      snapshot([
        ...nodes,
        peer("to-rr", { nodeSelector: "zone == 'west'", peerIP: "100.64.0.1", asNumber: 65000 }),
      ]),
      { nodeName: "rr" },
    );
    expect(q.peers).toEqual([]);
  });

  it("session settings: password from the secret, times, TTL security, allowed local AS numbers, source address None, next hop", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("edge", {
          node: "rr",
          peerIP: "203.0.113.5:1790",
          asNumber: 65005,
          password: { secretKeyRef: { name: "bgp", key: "edge" } },
          maxRestartTime: "90s",
          keepaliveTime: "20s",
          ttlSecurity: 2,
          numAllowedLocalASNumbers: 1,
          sourceAddress: "None",
          keepOriginalNextHop: true,
        }),
        peer("ibgp-keep", { node: "rr", peerIP: "203.0.113.6", asNumber: 64512, nextHopMode: "Keep" }),
        peer("missing-secret", {
          node: "rr",
          peerIP: "203.0.113.7",
          asNumber: 64512,
          password: { secretKeyRef: { name: "nope", key: "k" } },
        }),
      ]),
      { nodeName: "rr" },
      (ref) => (ref.name === "bgp" && ref.key === "edge" ? "pw" : undefined),
    );
    const edge = p.peers.find((s) => s.address === "203.0.113.5");
    expect(edge).toEqual({
      // ADD-PATH on every peering, as calico/node's bgp_template (add paths on)
      addPaths: "all",
      name: "Node_203_0_113_5_port_1790",
      type: "external",
      address: "203.0.113.5",
      port: 1790,
      peerAs: 65005,
      localAs: 64512,
      rrClient: false,
      passive: false,
      nextHopMode: "Keep",
      password: "pw",
      restartTime: 90,
      keepaliveTime: 20,
      ttlSecurity: 2,
      allowLocalAs: 1,
      from: "bgppeers/edge",
    });
    // next hop keep applies to eBGP only (bgp_processor.go)
    expect(p.peers.find((s) => s.address === "203.0.113.6")?.nextHopMode).toBe("Auto");
    expect(p.peers.find((s) => s.address === "203.0.113.7")?.password).toBeUndefined();
    expect(withoutPoolWarning(p.warnings)).toEqual([
      "bgppeers/missing-secret: secret nope/k not found; peering without a password",
    ]);
  });

  it("maximum prefixes: a BGPPeer's annotation wins over MAX_PREFIXES, which covers every other peering", () => {
    const withLimit = (name: string, spec: object) => ({
      ...peer(name, spec),
      metadata: { name, annotations: { "routereflector/max-prefixes": "10" } },
    });
    const snap = snapshot([
      ...nodes,
      withLimit("edge", { node: "rr", peerIP: "203.0.113.5", asNumber: 65005 }),
      peer("other", { node: "rr", peerIP: "203.0.113.6", asNumber: 65006 }),
    ]);
    const limits = (maxPrefixes?: number) =>
      computePeerings(snap, { nodeName: "rr", ...(maxPrefixes ? { maxPrefixes } : {}) }).peers.map(
        (s) => `${s.address} ${s.maxPrefixes ?? "-"}`,
      );
    expect(limits()).toContain("203.0.113.5 10");
    expect(limits()).toContain("203.0.113.6 -");
    const all = limits(500);
    expect(all).toContain("203.0.113.5 10");
    expect(all).toContain("203.0.113.6 500");
    expect(all.filter((l) => !l.endsWith(" 10"))).toEqual(all.filter((l) => l.endsWith(" 500")));
  });

  it("localWorkloadSelector peers are reported, not made", () => {
    const p = computePeerings(
      snapshot([...nodes, peer("wl", { localWorkloadSelector: "app == 'lb'", asNumber: 65010 })]),
      { nodeName: "rr" },
    );
    expect(p.peers).toEqual([]);
    expect(p.warnings[0]).toMatch(/^bgppeers\/wl: localWorkloadSelector/);
  });
});

describe("legacy mode (the calico/routereflector image)", () => {
  const nodes = [
    node("n1", { v4: "100.64.1.1", v6: "2001:db8::1:1" }),
    node("n2", { v4: "100.64.1.2" }),
    node("n3", { v4: "100.64.1.3" }),
    node("n4", { v6: "2001:db8::1:4" }),
  ];
  const me: Identity = { ip: "100.64.0.50", ip6: "2001:db8::50" };

  it("a global BGPPeer at our IP: every node is a client, with the BGPPeer's AS", () => {
    const p = computePeerings(
      snapshot([...nodes, peer("rr", { peerIP: "100.64.0.50", asNumber: 64600 })]),
      me,
    );
    expect(p).toMatchObject({ mode: "legacy", routerId: "100.64.0.50", localAs: 64512, listenPort: 179 });
    expect(rows(p.peers)).toEqual([
      "Global_100_64_1_1 global as64600 client:undefined",
      "Global_100_64_1_2 global as64600 client:undefined",
      "Global_100_64_1_3 global as64600 client:undefined",
    ]);
    expect(p.peers.every((s) => s.localAs === 64600 && s.sourceAddress === "100.64.0.50" && !s.passive)).toBe(
      true,
    );
  });

  it("a global BGPPeer at our IP6 peers over IPv6 with the nodes that have one", () => {
    const p = computePeerings(
      snapshot([...nodes, peer("rr6", { peerIP: "2001:db8::50", asNumber: 64512 })]),
      me,
    );
    expect(p.peers.map((s) => [s.address, s.sourceAddress])).toEqual([
      ["2001:db8::1:1", "2001:db8::50"],
      ["2001:db8::1:4", "2001:db8::50"],
    ]);
  });

  it("node-specific BGPPeers at our IP pick their nodes; CLUSTER_ID is the cluster", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("n2-rr", { node: "n2", peerIP: "100.64.0.50", asNumber: 64512 }),
        peer("sel-rr", { nodeSelector: "all()", peerIP: "100.64.0.51", asNumber: 64512 }),
      ]),
      { ...me, clusterId: "224.0.0.7" },
    );
    expect(rows(p.peers)).toEqual(["Node_100_64_1_2 node specific as64512 client:224.0.0.7"]);
  });

  it("rr_v4 entries make a reflector mesh when we are listed, one mesh per mesh name", () => {
    const rr = [
      { ip: "100.64.0.50", cluster_id: "224.0.0.1" },
      { ip: "100.64.0.51", cluster_id: "224.0.0.1" },
      { ip: "100.64.0.52", cluster_id: "224.0.0.2" },
      { ip: "100.64.0.60", mesh: "west" },
      { ip: "2001:db8::51" },
    ];
    const snap = snapshot([...nodes, peer("rr", { peerIP: "100.64.0.50", asNumber: 64512 })], rr);
    const p = computePeerings(snap, me);
    expect(p.clusterId).toBe("224.0.0.1");
    expect(rows(p.peers.filter((s) => s.type === "reflector mesh"))).toEqual([
      "Mesh_100_64_0_51 reflector mesh as64512",
      "Mesh_100_64_0_52 reflector mesh as64512",
      "Mesh_2001_db8__51 reflector mesh as64512",
    ]);
    expect(p.peers.filter((s) => s.type === "global").every((s) => s.clusterId === "224.0.0.1")).toBe(true);
    // not listed: standalone, no mesh
    const alone = computePeerings(snap, { ip: "100.64.0.70" });
    expect(alone.peers.filter((s) => s.type === "reflector mesh")).toEqual([]);
    // the west mesh has only one member
    expect(
      computePeerings(snap, { ip: "100.64.0.60" }).peers.filter((s) => s.type === "reflector mesh"),
    ).toEqual([]);
  });

  it("BGPPeers for our NODENAME add edge routers (eBGP when the AS differs)", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        peer("edge", { node: "rr-east", peerIP: "203.0.113.9", asNumber: 65100 }),
        peer("other", { node: "rr-west", peerIP: "203.0.113.10", asNumber: 65100 }),
      ]),
      { ...me, nodeName: "rr-east" },
    );
    expect(rows(p.peers)).toEqual(["Node_203_0_113_9 external as65100"]);
  });

  it("the reflector's own node address is skipped", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        node("self", { v4: "100.64.0.50" }),
        peer("rr", { peerIP: "100.64.0.50", asNumber: 64512 }),
      ]),
      { ip: "100.64.0.50", nodeName: "not-a-node" },
    );
    expect(p.peers.map((s) => s.address)).not.toContain("100.64.0.50");
  });
});

describe("BGPFilters on peerings", () => {
  const filter = (name: string, spec: object) => ({ kind: "BGPFilter", metadata: { name }, spec });
  const a = filter("a", {
    importV4: [{ action: "Reject", cidr: "198.18.9.0/24", matchOperator: "Equal" }],
    exportV6: [{ action: "Reject", cidr: "2001:db8:9::/48", matchOperator: "In" }],
  });
  const b = filter("b", { importV4: [{ action: "Accept" }], exportV4: [{ action: "Reject" }] });
  const iface = filter("iface", { exportV4: [{ action: "Accept", interface: "eth*" }] });
  const nodes = [node("n1", { v4: "100.64.1.1", v6: "2001:db8::1:1" }), node("n2", { v4: "100.64.1.2" })];

  it("carry the rules of the BGPPeer's filters, in its order, for the peering's family; in both modes", () => {
    const objects = [
      ...nodes,
      a,
      b,
      peer("rr", { peerIP: "100.64.0.50", asNumber: 64512, filters: ["b", "a"] }),
    ];
    const legacy = computePeerings(snapshot(objects), { ip: "100.64.0.50" });
    const n1 = legacy.peers.find((s) => s.address === "100.64.1.1");
    expect(n1?.filters?.names).toEqual(["b", "a"]);
    expect(n1?.filters?.import.map((r) => r.action)).toEqual(["Accept", "Reject"]);
    expect(n1?.filters?.export.map((r) => r.action)).toEqual(["Reject"]);
    const rr = node("rr", { v4: "100.64.0.50", cluster: "100.64.0.50" });
    const nodeMode = computePeerings(
      snapshot([
        ...nodes,
        rr,
        a,
        b,
        peer("to-nodes", { nodeSelector: "all()", peerSelector: "!has(x)", filters: ["a"] }),
      ]),
      { ip: "100.64.0.50", ip6: "2001:db8::50", nodeName: "rr" },
    );
    const v6 = nodeMode.peers.find((s) => s.address === "2001:db8::1:1");
    expect(v6?.filters).toEqual({
      names: ["a"],
      import: [],
      export: [{ action: "Reject", cidr: { prefix: "2001:db8:9::/48", operator: "In" }, operations: [] }],
    });
    expect(nodeMode.peers.find((s) => s.address === "100.64.1.2")?.filters?.import).toHaveLength(1);
  });

  it("a filter that does not exist is skipped, as confd skips it, with a warning; interface rules are warned about", () => {
    const p = computePeerings(
      snapshot([
        ...nodes,
        iface,
        peer("rr", { peerIP: "100.64.0.50", asNumber: 64512, filters: ["gone", "iface"] }),
      ]),
      { ip: "100.64.0.50" },
    );
    expect(p.peers[0]?.filters?.names).toEqual(["iface"]);
    expect(p.warnings).toEqual([
      "bgppeers/rr: BGPFilter gone not found; its rules are not applied",
      "bgpfilters/iface: a rule with interface matches no reflected route (a reflector installs no routes, so they have no outgoing interface)",
    ]);
  });
});

describe("the default export, in node mode", () => {
  const pool = (name: string, cidr: string, disableBGPExport = false) => ({
    kind: "IPPool",
    metadata: { name },
    spec: { cidr, disableBGPExport },
  });
  const objects = [
    node("rr", { v4: "100.64.0.50", v6: "2001:db8::50", cluster: "100.64.0.50" }),
    node("n1", { v4: "100.64.1.1", v6: "2001:db8::1:1" }),
    pool("v4", "198.18.0.0/16"),
    pool("quiet", "198.19.88.0/24", true),
    pool("v6", "2001:db8:100::/48"),
    config("default", {
      nodeToNodeMeshEnabled: false,
      serviceClusterIPs: [{ cidr: "198.19.70.0/24" }, { cidr: "2001:db8:70::/112" }],
      prefixAdvertisements: [{ cidr: "198.18.0.0/16", communities: ["64512:1"] }],
    }),
    config("node.rr", { prefixAdvertisements: [{ cidr: "198.18.5.0/24", communities: ["64512:5"] }] }),
    peer("clients", { nodeSelector: "all()", peerSelector: "!has(x)" }),
  ];

  it("from the IP pools and service ranges, per family; the node's own prefix advertisements first", () => {
    const p = computePeerings(snapshot(objects), { ip: "100.64.0.50", ip6: "2001:db8::50", nodeName: "rr" });
    expect(p.peers.find((s) => s.address === "100.64.1.1")?.filters?.defaultExport).toEqual({
      reject: ["198.19.88.0/24"],
      accept: ["198.19.70.0/24", "198.18.0.0/16"],
      communities: [{ cidr: "198.18.5.0/24", communities: ["64512:5"] }],
    });
    expect(p.peers.find((s) => s.address === "2001:db8::1:1")?.filters?.defaultExport).toEqual({
      reject: [],
      accept: ["2001:db8:70::/112", "2001:db8:100::/48"],
      communities: [],
    });
  });

  it("none without IP pools (everything exported, and said), and none in legacy mode", () => {
    const noPools = objects.filter((o) => o.kind !== "IPPool");
    const p = computePeerings(snapshot(noPools), { ip: "100.64.0.50", nodeName: "rr" });
    expect(p.peers.every((s) => !s.filters?.defaultExport)).toBe(true);
    expect(p.warnings).toContain(
      "no IPPool in the datastore: every route is exported (calico/node would export only IP pool and service routes)",
    );
    const legacy = computePeerings(
      snapshot([...objects, peer("rr-legacy", { peerIP: "100.64.0.60", asNumber: 64512 })]),
      { ip: "100.64.0.60" },
    );
    expect(legacy.mode).toBe("legacy");
    expect(legacy.peers.every((s) => !s.filters?.defaultExport)).toBe(true);
  });
});
