import { describe, expect, it } from "vitest";
import { CeaseSubcode } from "../../src/bgp/index.js";
import type { PeerSpec } from "../../src/datastore/peerings.js";
import type { NeighborConfig } from "../../src/reflector/neighbor.js";
import { neighborConfig, Reconciler } from "../../src/reflector/reconciler.js";
import type { Reflector } from "../../src/reflector/reflector.js";

/** Records what the reconciler asks of the reflector and the listener. */
function fakes() {
  const calls: string[] = [];
  const reflector = {
    config: { routerId: "100.64.0.1", localAs: 64512 },
    addPeer: (s: NeighborConfig) => calls.push(`add ${s.peerAddress} as${s.peerAs}`),
    removePeer: (a: string, _m: string, subcode: number) => calls.push(`remove ${a} cease/${subcode}`),
    setFilters: (a: string, f: PeerSpec["filters"]) =>
      calls.push(`filters ${a} ${f?.names.join(",") ?? "none"}`),
    stop: (m: string, retain: boolean) =>
      calls.push(`stop ${retain ? "retaining routes" : "for good"}: ${m}`),
  } as unknown as Reflector;
  const listener = {
    setMd5Key: (peer: string, key: string) => calls.push(`md5 ${peer} ${key ? "set" : "cleared"}`),
  };
  return { calls, reconciler: new Reconciler(reflector, () => listener) };
}

const spec = (address: string, extra: Partial<PeerSpec> = {}): PeerSpec => ({
  name: `Node_${address}`,
  type: "node specific",
  address,
  port: 179,
  peerAs: 64512,
  localAs: 64512,
  rrClient: true,
  passive: false,
  nextHopMode: "Auto",
  from: "bgppeers/x",
  ...extra,
});

describe("Reconciler", () => {
  it("touches only the sessions whose spec changed", () => {
    const { calls, reconciler } = fakes();
    reconciler.apply([spec("100.64.1.1"), spec("100.64.1.2"), spec("100.64.1.3", { password: "pw" })]);
    expect(calls.splice(0)).toEqual([
      "add 100.64.1.1 as64512",
      "add 100.64.1.2 as64512",
      "md5 100.64.1.3 set",
      "add 100.64.1.3 as64512",
    ]);
    // same specs: nothing
    expect(
      reconciler.apply([spec("100.64.1.1"), spec("100.64.1.2"), spec("100.64.1.3", { password: "pw" })]),
    ).toEqual({
      added: [],
      removed: [],
      changed: [],
      refiltered: [],
    });
    expect(calls).toEqual([]);
    // AS change on .2, password removed on .3, .1 gone, .4 new
    const r = reconciler.apply([
      spec("100.64.1.2", { peerAs: 65000 }),
      spec("100.64.1.3"),
      spec("100.64.1.4"),
    ]);
    expect(calls).toEqual([
      `remove 100.64.1.1 cease/${CeaseSubcode.PEER_DECONFIGURED}`,
      `remove 100.64.1.2 cease/${CeaseSubcode.OTHER_CONFIGURATION_CHANGE}`,
      "add 100.64.1.2 as65000",
      `remove 100.64.1.3 cease/${CeaseSubcode.OTHER_CONFIGURATION_CHANGE}`,
      "md5 100.64.1.3 cleared",
      "add 100.64.1.3 as64512",
      "add 100.64.1.4 as64512",
    ]);
    expect(r.removed.map((s) => s.address)).toEqual(["100.64.1.1"]);
    expect(r.changed.map((s) => s.address)).toEqual(["100.64.1.2", "100.64.1.3"]);
    expect(r.added.map((s) => s.address)).toEqual(["100.64.1.4"]);
    expect([...reconciler.specs.keys()]).toEqual(["100.64.1.2", "100.64.1.3", "100.64.1.4"]);
  });

  it("applies a change of BGPFilter rules alone to the running session, and resets it when more changed", () => {
    const { calls, reconciler } = fakes();
    const filters = (name: string) => ({
      names: [name],
      import: [{ action: "Reject" as const, operations: [] }],
      export: [],
    });
    reconciler.apply([spec("100.64.1.1"), spec("100.64.1.2")]);
    calls.length = 0;
    const r = reconciler.apply([spec("100.64.1.1", { filters: filters("a") }), spec("100.64.1.2")]);
    expect(calls.splice(0)).toEqual(["filters 100.64.1.1 a"]);
    expect(r.refiltered.map((s) => s.address)).toEqual(["100.64.1.1"]);
    // the filters are now part of the running spec: the same again is nothing
    reconciler.apply([spec("100.64.1.1", { filters: filters("a") }), spec("100.64.1.2")]);
    expect(calls.splice(0)).toEqual([]);
    reconciler.apply([spec("100.64.1.1"), spec("100.64.1.2")]);
    expect(calls.splice(0)).toEqual(["filters 100.64.1.1 none"]);
    // filters and the AS changed: a new session, which has the filters from its start
    reconciler.apply([spec("100.64.1.1", { filters: filters("b"), peerAs: 65000 }), spec("100.64.1.2")]);
    expect(calls.splice(0)).toEqual([
      `remove 100.64.1.1 cease/${CeaseSubcode.OTHER_CONFIGURATION_CHANGE}`,
      "add 100.64.1.1 as65000",
    ]);
  });

  it("stopAll stops the reflector, for good or for a restart that clients ride out, and forgets every peering", () => {
    const { calls, reconciler } = fakes();
    reconciler.apply([spec("100.64.1.1"), spec("100.64.1.2", { password: "pw" })]);
    calls.length = 0;
    reconciler.stopAll("bye", true);
    expect(calls).toEqual(["stop retaining routes: bye", "md5 100.64.1.2 cleared"]);
    expect(reconciler.specs.size).toBe(0);
    reconciler.apply([spec("100.64.1.1")]);
    calls.length = 0;
    reconciler.stopAll("gone");
    expect(calls).toEqual(["stop for good: gone"]);
  });
});

describe("neighborConfig", () => {
  it("maps a peering onto session settings", () => {
    const s = neighborConfig(
      spec("2001:db8::9", {
        peerAs: 65001,
        rrClient: false,
        sourceAddress: "2001:db8::1",
        password: "pw",
        restartTime: 60,
        keepaliveTime: 10,
        ttlSecurity: 1,
        allowLocalAs: 3,
        passive: true,
      }),
      { routerId: "100.64.0.1", clusterId: "100.64.0.2" },
    );
    expect(s).toMatchObject({
      families: ["ipv6"],
      peerAddress: "2001:db8::9",
      peerPort: 179,
      peerAs: 65001,
      localAs: 64512,
      routerId: "100.64.0.1",
      role: "ebgp",
      clusterId: "100.64.0.2",
      passive: true,
      localAddress: "2001:db8::1",
      password: "pw",
      holdTime: 30,
      ttl: 255,
      minTtl: 255,
      gracefulRestart: { restartTime: 60 },
      maxRestartTime: 60,
      allowLocalAs: 3,
      // eBGP with next hop Auto: next hop self, as BIRD does
      nextHopSelf: "2001:db8::1",
    });
  });

  it.each([
    ["Auto", 64512, undefined],
    ["Self", 64512, "100.64.0.1"],
    ["Keep", 65001, undefined],
    ["Auto", 65001, "100.64.0.1"],
  ] as const)("next hop %s towards AS %d: %s", (mode, peerAs, nextHopSelf) => {
    const s = neighborConfig(spec("100.64.1.1", { nextHopMode: mode, peerAs }), { routerId: "100.64.0.1" });
    expect(s.nextHopSelf).toBe(nextHopSelf);
  });

  it.each([
    [64512, true, undefined, "client", "100.64.0.1"],
    [64512, false, "100.64.0.9", "non-client", "100.64.0.9"],
    [65001, true, undefined, "ebgp", "100.64.0.1"],
  ] as const)("towards AS %d, rrClient %s, clusterId %s: %s, cluster %s", (peerAs, rrClient, clusterId, role, cluster) => {
    const s = neighborConfig(spec("100.64.1.1", { peerAs, rrClient, ...(clusterId ? { clusterId } : {}) }), {
      routerId: "100.64.0.1",
    });
    expect([s.role, s.clusterId]).toEqual([role, cluster]);
  });
});

describe("neighborConfig: ADD-PATH", () => {
  it.each([
    ["all", { ipv4: "both" }, undefined],
    [2, { ipv4: "both" }, 2],
    ["off", undefined, undefined],
  ] as const)("ADD_PATHS %s: offered %j, at most %s paths", (addPaths, offered, max) => {
    const s = neighborConfig(spec("100.64.1.1", { addPaths }), { routerId: "100.64.0.1" });
    expect([s.addPath, s.addPathMax]).toEqual([offered, max]);
  });
});
