import { describe, expect, it } from "vitest";
import {
  parseAsNumber,
  parseDuration,
  parseKubernetesNode,
  parsePeerIp,
  parseReflectorEntry,
  parseResource,
  ResourceError,
} from "../../src/datastore/resources.js";

const meta = (name: string, labels?: Record<string, string>) => ({ name, ...(labels ? { labels } : {}) });

function errorOf(f: () => unknown): ResourceError {
  try {
    f();
  } catch (e) {
    if (e instanceof ResourceError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("ASNumber (numorstring/asnumber.go)", () => {
  it.each([
    [64512, 64512],
    ["64512", 64512],
    ["1.10", 65546],
    ["65535.65535", 4294967295],
    [4294967295, 4294967295],
    ["0", 0],
  ])("%j is %d", (text, value) => expect(parseAsNumber(text)).toBe(value));

  it.each([
    [-1],
    [4294967296],
    ["4294967296"],
    ["1.65536"],
    ["65536.1"],
    ["1.2.3"],
    ["a"],
    [""],
    [1.5],
    [true],
  ])("%j is not an AS number", (text) => expect(parseAsNumber(text)).toBeUndefined());
});

describe("Duration (Go time.ParseDuration), in seconds", () => {
  it.each([
    ["120s", 120],
    ["2m30s", 150],
    ["1.5h", 5400],
    ["1h1m1s", 3661],
    ["500ms", 1],
    ["400ms", 0],
    ["0", 0],
  ])("%s is %d s", (text, value) => expect(parseDuration(text)).toBe(value));

  it.each([["120"], ["s"], ["1d"], ["-5s"], [""], ["1m 2s"]])("%j is not a duration", (text) =>
    expect(parseDuration(text)).toBeUndefined());
});

describe("peerIP forms", () => {
  it.each([
    ["100.64.0.1", { address: "100.64.0.1" }],
    ["100.64.0.1:1179", { address: "100.64.0.1", port: 1179 }],
    ["2001:db8::1", { address: "2001:db8::1" }],
    ["[2001:db8::1]:1179", { address: "2001:db8::1", port: 1179 }],
    ["2001:0db8:0:0::1", { address: "2001:db8::1" }],
  ])("%s", (text, value) => expect(parsePeerIp(text)).toEqual(value));

  it.each([
    ["100.64.0"],
    ["100.64.0.1:0"],
    ["100.64.0.1:70000"],
    ["[100.64.0.1]"],
    ["host.example"],
    ["2001:db8::1:179:"],
  ])("%s is rejected", (text) => expect(parsePeerIp(text)).toBeUndefined());
});

describe("Node", () => {
  it("reads spec.bgp, dropping the prefix length, with labels", () => {
    const node = parseResource(
      {
        kind: "Node",
        apiVersion: "projectcalico.org/v3",
        metadata: meta("rr1", { "route-reflector": "true" }),
        spec: {
          bgp: {
            ipv4Address: "100.64.0.1/16",
            ipv6Address: "2001:db8::1/64",
            asNumber: "1.10",
            routeReflectorClusterID: "224.0.0.1",
          },
          orchRefs: [{ nodeName: "rr1", orchestrator: "k8s" }],
        },
        status: {},
      },
      "nodes/rr1",
    );
    expect(node).toEqual({
      kind: "Node",
      name: "rr1",
      labels: { "route-reflector": "true" },
      ipv4: "100.64.0.1",
      ipv6: "2001:db8::1",
      asNumber: 65546,
      clusterId: "224.0.0.1",
    });
  });

  it("a Node without BGP has no addresses", () => {
    expect(parseResource({ kind: "Node", metadata: meta("n") }, "k")).toEqual({
      kind: "Node",
      name: "n",
      labels: {},
    });
  });

  it.each([
    [{ bgp: { ipv4Address: "2001:db8::1/64" } }, "spec.bgp.ipv4Address"],
    [{ bgp: { ipv4Address: "100.64.0.1/33" } }, "spec.bgp.ipv4Address"],
    [{ bgp: { ipv6Address: "100.64.0.1" } }, "spec.bgp.ipv6Address"],
    [{ bgp: { asNumber: "x" } }, "spec.bgp.asNumber"],
    [{ bgp: { routeReflectorClusterID: "224.0.0" } }, "spec.bgp.routeReflectorClusterID"],
    [{ bgp: "yes" }, "spec.bgp"],
  ])("%j: the error names %s", (spec, field) => {
    const e = errorOf(() => parseResource({ kind: "Node", metadata: meta("bad"), spec }, "nodes/bad"));
    expect(e.field).toBe(field);
    expect(e.message).toMatch(new RegExp(`^nodes/bad: ${field.replace(/\./g, "\\.")}: `));
  });

  it("a Kubernetes Node: annotations, and Kubernetes labels over Calico's", () => {
    const node = parseKubernetesNode(
      {
        metadata: {
          name: "k1",
          labels: { "kubernetes.io/hostname": "k1", rack: "b" },
          annotations: {
            "projectcalico.org/IPv4Address": "100.64.1.1/24",
            "projectcalico.org/ASNumber": "64513",
            "projectcalico.org/RouteReflectorClusterID": "224.0.0.2",
            "projectcalico.org/labels": JSON.stringify({ rack: "a", "route-reflector": "true" }),
          },
        },
      },
      "nodes/k1",
    );
    expect(node).toEqual({
      kind: "Node",
      name: "k1",
      labels: { "kubernetes.io/hostname": "k1", rack: "b", "route-reflector": "true" },
      ipv4: "100.64.1.1",
      asNumber: 64513,
      clusterId: "224.0.0.2",
    });
  });

  it("a Kubernetes Node with a bad annotation names it", () => {
    const e = errorOf(() =>
      parseKubernetesNode(
        { metadata: { name: "k", annotations: { "projectcalico.org/IPv4Address": "nope" } } },
        "nodes/k",
      ),
    );
    expect(e.field).toBe("metadata.annotations.projectcalico.org/IPv4Address");
  });
});

describe("BGPPeer", () => {
  const peer = (spec: object) => parseResource({ kind: "BGPPeer", metadata: meta("p"), spec }, "bgppeers/p");

  it("peerIP with port, AS, and every session field", () => {
    expect(
      peer({
        node: "rr1",
        peerIP: "[2001:db8::9]:1179",
        asNumber: 65001,
        localASNumber: "64999",
        password: { secretKeyRef: { name: "bgp", key: "edge" } },
        sourceAddress: "None",
        maxRestartTime: "2m",
        keepaliveTime: "10s",
        ttlSecurity: 1,
        numAllowedLocalASNumbers: 2,
        keepOriginalNextHop: true,
        reversePeering: "Manual",
      }),
    ).toEqual({
      kind: "BGPPeer",
      name: "p",
      node: "rr1",
      peerIP: { address: "2001:db8::9", port: 1179 },
      asNumber: 65001,
      localAsNumber: 64999,
      password: { name: "bgp", key: "edge" },
      sourceAddress: "None",
      maxRestartTime: 120,
      keepaliveTime: 10,
      ttlSecurity: 1,
      numAllowedLocalASNumbers: 2,
      nextHopMode: "Keep",
      reversePeering: "Manual",
    });
  });

  it("our max-prefixes annotation: a count, or the key and the annotation are named", () => {
    const annotated = (value: string) =>
      parseResource(
        {
          kind: "BGPPeer",
          metadata: { name: "p", annotations: { "routereflector/max-prefixes": value, other: "x" } },
          spec: { peerIP: "100.64.0.9", asNumber: 1 },
        },
        "bgppeers/p",
      );
    expect(annotated("5000")).toMatchObject({ maxPrefixes: 5000 });
    for (const bad of ["0", "-1", "1e3", "lots", "99999999999"]) {
      const e = errorOf(() => annotated(bad));
      expect(e.key).toBe("bgppeers/p");
      expect(e.field).toBe("metadata.annotations.routereflector/max-prefixes");
      expect(e.reason).toBe(`not a count of 1 or more: ${JSON.stringify(bad)}`);
    }
  });

  it("selectors are parsed; defaults are filled in", () => {
    const p = peer({ nodeSelector: "all()", peerSelector: "route-reflector == 'true'" });
    if (p.kind !== "BGPPeer") throw new Error("kind");
    expect(p.nodeSelector?.matches({})).toBe(true);
    expect(p.peerSelector?.matches({ "route-reflector": "true" })).toBe(true);
    expect(p.peerSelector?.matches({})).toBe(false);
    expect(p).toMatchObject({ nextHopMode: "Auto", sourceAddress: "UseNodeIP", reversePeering: "Auto" });
  });

  it.each([
    [{ peerIP: "100.64.0.9" }, "spec.asNumber", /required with peerIP/],
    [{ peerIP: "100.64.0.9:99999", asNumber: 1 }, "spec.peerIP", /not an IP address/],
    [{ peerSelector: "has(x", asNumber: 1 }, "spec.peerSelector", /invalid selector/],
    [{ peerSelector: "all()", asNumber: 1 }, "spec.asNumber", /must be empty/],
    [{ peerIP: "100.64.0.9", asNumber: 1, peerSelector: "all()" }, "spec.peerSelector", /together/],
    [
      { node: "a", nodeSelector: "all()", peerIP: "100.64.0.9", asNumber: 1 },
      "spec.nodeSelector",
      /together/,
    ],
    [{}, "spec.peerIP", /one of/],
    [
      { peerIP: "100.64.0.9", asNumber: 1, nextHopMode: "Self", keepOriginalNextHop: true },
      "spec.nextHopMode",
      /together/,
    ],
    [{ peerIP: "100.64.0.9", asNumber: 1, nextHopMode: "Sometimes" }, "spec.nextHopMode", /not one of/],
    [{ peerIP: "100.64.0.9", asNumber: 1, maxRestartTime: 120 }, "spec.maxRestartTime", /duration/],
    [{ peerIP: "100.64.0.9", asNumber: 1, ttlSecurity: 300 }, "spec.ttlSecurity", /integer/],
    [
      { peerIP: "100.64.0.9", asNumber: 1, numAllowedLocalASNumbers: -1 },
      "spec.numAllowedLocalASNumbers",
      /integer/,
    ],
    [
      { peerIP: "100.64.0.9", asNumber: 1, password: { secretKeyRef: { name: "x" } } },
      "spec.password.secretKeyRef",
      /name and key/,
    ],
  ])("%j: %s", (spec, field, reason) => {
    const e = errorOf(() => peer(spec));
    expect(e.field).toBe(field);
    expect(e.reason).toMatch(reason);
    expect(e.key).toBe("bgppeers/p");
  });
});

describe("BGPConfiguration", () => {
  const config = (name: string, spec: object) =>
    parseResource({ kind: "BGPConfiguration", metadata: meta(name), spec }, `bgpconfigurations/${name}`);

  it("default", () => {
    expect(
      config("default", {
        logSeverityScreen: "Info",
        nodeToNodeMeshEnabled: false,
        asNumber: 64512,
        listenPort: 1179,
        bindMode: "NodeIP",
        nodeMeshMaxRestartTime: "90s",
        serviceClusterIPs: [{ cidr: "198.18.0.0/24" }],
        serviceLoadBalancerIPs: [{ cidr: "2001:db8:70:0:0::/112" }],
        communities: [{ name: "edge", value: "64512:300" }],
        prefixAdvertisements: [{ cidr: "198.18.0.0/16", communities: ["edge", "64512:301:1"] }],
      }),
    ).toEqual({
      kind: "BGPConfiguration",
      name: "default",
      logSeverityScreen: "Info",
      nodeToNodeMeshEnabled: false,
      asNumber: 64512,
      listenPort: 1179,
      bindMode: "NodeIP",
      nodeMeshMaxRestartTime: 90,
      serviceClusterIPs: ["198.18.0.0/24"],
      serviceExternalIPs: [],
      serviceLoadBalancerIPs: ["2001:db8:70::/112"],
      // community names resolved to their values, as confd reads them
      prefixAdvertisements: [{ cidr: "198.18.0.0/16", communities: ["64512:300", "64512:301:1"] }],
    });
    expect(errorOf(() => config("default", { serviceClusterIPs: [{ cidr: "198.18.0.0/33" }] })).field).toBe(
      "spec.serviceClusterIPs[0].cidr",
    );
    expect(
      errorOf(() =>
        config("default", { prefixAdvertisements: [{ cidr: "198.18.0.0/16", communities: ["nope"] }] }),
      ).field,
    ).toBe("spec.prefixAdvertisements[0].communities[0]");
  });

  it("asNumber and nodeToNodeMeshEnabled only on default (ValidateDefaultOnlyFields)", () => {
    expect(errorOf(() => config("node.a", { asNumber: 1 })).field).toBe("spec.asNumber");
    expect(errorOf(() => config("node.a", { nodeToNodeMeshEnabled: true })).field).toBe(
      "spec.nodeToNodeMeshEnabled",
    );
    expect(config("node.a", { listenPort: 1179 })).toMatchObject({ listenPort: 1179 });
  });
});

describe("objects that are not resources", () => {
  it.each([
    [null, "(object)"],
    [[], "(object)"],
    [{ kind: "IPPool", metadata: meta("x") }, "spec.cidr"],
    [{ kind: "IPPoolish", metadata: meta("x") }, "kind"],
    [{ kind: "Node", apiVersion: "v1", metadata: meta("x") }, "apiVersion"],
    [{ kind: "Node", metadata: {} }, "metadata.name"],
    [{ kind: "Node", metadata: { name: "x", labels: { a: 1 } } }, "metadata.labels.a"],
  ])("%j: %s", (obj, field) => expect(errorOf(() => parseResource(obj, "k")).field).toBe(field));
});

describe("legacy reflector entries", () => {
  it("rr_v4 and rr_v6 values", () => {
    expect(parseReflectorEntry({ ip: "100.64.0.50", cluster_id: "1.0.0.1" }, "rr_v4/100.64.0.50", 4)).toEqual(
      {
        kind: "ReflectorEntry",
        name: "100.64.0.50",
        ip: "100.64.0.50",
        clusterId: "1.0.0.1",
        mesh: "",
      },
    );
    expect(parseReflectorEntry({ ip: "2001:db8::50", mesh: "east" }, "rr_v6/x", 6)).toMatchObject({
      ip: "2001:db8::50",
      mesh: "east",
    });
    expect(errorOf(() => parseReflectorEntry({ ip: "2001:db8::50" }, "rr_v4/x", 4)).field).toBe("ip");
    expect(
      errorOf(() => parseReflectorEntry({ ip: "100.64.0.1", cluster_id: "x" }, "rr_v4/x", 4)).field,
    ).toBe("cluster_id");
  });
});
