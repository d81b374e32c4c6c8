// The Kubernetes source against the API server stand-in, and the stand-in against the real kubectl
// (so the stand-in is honest). Addresses 127.0.42.x.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubernetesSource } from "../../src/datastore/kubernetes.js";
import { Store } from "../../src/datastore/store.js";
import { KubeApiServer } from "../helpers/kube-apiserver.js";
import { waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const k8sNode = (
  name: string,
  ip: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
) => ({
  metadata: { name, labels, annotations: { "projectcalico.org/IPv4Address": `${ip}/24`, ...annotations } },
  spec: {},
  status: {},
});

let api: KubeApiServer;
let kubeconfig: string;
const dir = workdir("kube");

beforeAll(async () => {
  api = new KubeApiServer("127.0.42.1");
  await api.listen();
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, api.kubeconfig());
});
afterAll(() => api.close());

/** A source on the stand-in's kubeconfig into a new store, its log lines collected; not started. */
function source() {
  const store = new Store();
  const lines: string[] = [];
  const src = new KubernetesSource(
    { kubeconfig, namespace: "kube-system" },
    store,
    pino({ level: "debug" }, { write: (l: string) => lines.push(l) }),
  );
  return { store, lines, src };
}

// Asynchronous: the stand-in runs in this process and must answer while kubectl waits.
const run = promisify(execFile);
const kubectl = async (...args: string[]) =>
  (await run("kubectl", ["--kubeconfig", kubeconfig, ...args])).stdout;

describe("the API server stand-in, checked with the real kubectl", () => {
  it("kubectl get nodes lists what the server holds", async () => {
    api.put("nodes", k8sNode("kube-a", "100.64.5.1"));
    api.put("nodes", k8sNode("kube-b", "100.64.5.2"));
    const out = await kubectl("get", "nodes", "-o", "name");
    expect(out.trim().split("\n")).toEqual(["node/kube-a", "node/kube-b"]);
    // the human table: kubectl asks for a Table and prints the list it gets
    expect(await kubectl("get", "nodes")).toMatch(/^NAME\s.*\nkube-a\s.*\nkube-b\s/s);
    const json = JSON.parse(await kubectl("get", "node", "kube-a", "-o", "json")) as {
      metadata: { annotations: Record<string, string> };
    };
    expect(json.metadata.annotations["projectcalico.org/IPv4Address"]).toBe("100.64.5.1/24");
  });

  it("kubectl apply creates and then patches a BGPPeer; kubectl delete removes it", async () => {
    const file = join(dir, "peer.yaml");
    const peer = (asNumber: number) => `apiVersion: crd.projectcalico.org/v1
kind: BGPPeer
metadata:
  name: edge-router
spec:
  peerIP: 203.0.113.7
  asNumber: ${asNumber}
  node: kube-a
`;
    writeFileSync(file, peer(65007));
    expect(await kubectl("apply", "--validate=false", "-f", file)).toMatch(
      /bgppeer.crd.projectcalico.org\/edge-router created/,
    );
    writeFileSync(file, peer(65008));
    expect(await kubectl("apply", "--validate=false", "-f", file)).toMatch(/edge-router configured/);
    const got = JSON.parse(
      await kubectl("get", "bgppeers.crd.projectcalico.org", "edge-router", "-o", "json"),
    ) as {
      spec: { asNumber: number };
    };
    expect(got.spec.asNumber).toBe(65008);
    expect(
      api.requests.some((r) => r.startsWith("PATCH /apis/crd.projectcalico.org/v1/bgppeers/edge-router")),
    ).toBe(true);
    expect(await kubectl("delete", "bgppeers.crd.projectcalico.org", "edge-router")).toMatch(/deleted/);
    await expect(kubectl("get", "bgppeers.crd.projectcalico.org", "edge-router")).rejects.toThrow(
      /NotFound|not found/,
    );
  });

  it("a watch streams the changes after a resourceVersion, and 410 Gone once compacted", async () => {
    const rv = api.resourceVersion;
    api.put("nodes", k8sNode("kube-c", "100.64.5.3"));
    const res = await api.get(`/api/v1/nodes?watch=true&resourceVersion=${rv}`);
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    const first = await new Promise<string>((resolve) =>
      res.once("data", (d: Buffer) => resolve(d.toString())),
    );
    expect(JSON.parse(first.split("\n")[0] as string)).toMatchObject({
      type: "ADDED",
      object: { metadata: { name: "kube-c" } },
    });
    res.destroy();
    api.compact();
    const gone = await api.get(`/api/v1/nodes?watch=true&resourceVersion=${rv}`);
    const text = await new Promise<string>((resolve) => {
      let t = "";
      gone.on("data", (d: Buffer) => {
        t += d.toString();
      });
      gone.on("end", () => resolve(t));
    });
    expect(JSON.parse(text.trim())).toMatchObject({
      type: "ERROR",
      object: { code: 410, reason: "Expired" },
    });
  });
});

describe("Kubernetes source", () => {
  it("lists and watches Nodes, BGPPeers, BGPConfigurations and Secrets; resumes, follows bookmarks, relists on 410", async (ctx) => {
    reliability(ctx, {
      scenario: "Kubernetes watches closed, 410 Gone",
      load: "the HTTPS API server stand-in with Nodes, BGPPeers, BGPConfigurations and Secrets",
      fault: "watches closed by the server; 410 Gone for an expired resourceVersion",
      checked:
        "resumes from the last resourceVersion; follows bookmarks; relists on 410 and applies the difference",
    });
    api.put(
      "nodes",
      k8sNode(
        "rr-1",
        "100.64.6.1",
        { "route-reflector": "true" },
        { "projectcalico.org/RouteReflectorClusterID": "224.0.0.1" },
      ),
    );
    api.put(
      "nodes",
      k8sNode("worker-1", "100.64.6.11", {}, { "projectcalico.org/labels": JSON.stringify({ rack: "r1" }) }),
    );
    api.put("bgpconfigurations", {
      metadata: { name: "default" },
      spec: {
        nodeToNodeMeshEnabled: false,
        asNumber: 64513,
        nodeMeshPassword: { secretKeyRef: { name: "bgp-passwords", key: "mesh" } },
      },
    });
    api.put("bgppeers", {
      metadata: { name: "peer-with-route-reflectors" },
      spec: { nodeSelector: "all()", peerSelector: "route-reflector == 'true'" },
    });
    api.put("bgppeers", { metadata: { name: "broken" }, spec: { peerIP: "nonsense", asNumber: 1 } });
    api.put(
      "secrets",
      { metadata: { name: "bgp-passwords" }, data: { edge: Buffer.from("s3cret").toString("base64") } },
      "kube-system",
    );

    const { store, lines, src } = source();
    await src.start();
    try {
      await waitFor(() => store.synced, 10_000, "synced");
      const snap = store.snapshot();
      expect(snap.nodes.get("rr-1")).toMatchObject({
        ipv4: "100.64.6.1",
        clusterId: "224.0.0.1",
        labels: { "route-reflector": "true" },
      });
      expect(snap.nodes.get("worker-1")?.labels).toEqual({ rack: "r1" });
      expect(snap.configs.get("default")?.asNumber).toBe(64513);
      expect([...snap.peers.keys()]).toEqual(["peer-with-route-reflectors"]);
      expect(store.secret({ name: "bgp-passwords", key: "edge" })).toBe("s3cret");
      expect(lines.some((l) => l.includes("invalid object skipped") && l.includes("bgppeers/broken"))).toBe(
        true,
      );
      expect(
        api.requests.some((r) => r.includes("/api/v1/nodes?") && r.includes("allowWatchBookmarks=true")),
      ).toBe(true);

      // live changes
      api.put("nodes", k8sNode("worker-2", "100.64.6.12"));
      api.remove("bgppeers", "peer-with-route-reflectors");
      api.put(
        "secrets",
        { metadata: { name: "bgp-passwords" }, stringData: { edge: "changed" } },
        "kube-system",
      );
      await waitFor(
        () =>
          store.snapshot().nodes.has("worker-2") &&
          store.snapshot().peers.size === 0 &&
          store.secret({ name: "bgp-passwords", key: "edge" }) === "changed",
        5000,
        "watch events",
      );

      // a bookmark moves the resourceVersion; a closed watch resumes from it without a list
      const lists = () =>
        api.requests.filter((r) => r.startsWith("GET /api/v1/nodes") && !r.includes("watch=")).length;
      const listsBefore = lists();
      api.put("secrets", { metadata: { name: "other" }, stringData: { a: "b" } }, "kube-system");
      api.bookmark();
      const bookmarked = api.resourceVersion;
      await new Promise((r) => setTimeout(r, 200));
      api.closeWatches();
      await waitFor(
        () =>
          api.requests.some(
            (r) => r.startsWith("GET /api/v1/nodes?") && r.includes(`resourceVersion=${bookmarked}`),
          ),
        5000,
        "nodes watch resumed from the bookmark",
      );
      api.put("nodes", k8sNode("worker-3", "100.64.6.13"));
      await waitFor(() => store.snapshot().nodes.has("worker-3"), 5000, "event after resume");
      expect(lists()).toBe(listsBefore);

      // changes, then compaction: resuming gets 410 Gone, the source lists again and applies the difference
      api.closeWatches();
      api.remove("nodes", "worker-1");
      api.put("nodes", k8sNode("worker-4", "100.64.6.14"));
      api.compact();
      await waitFor(
        () => !store.snapshot().nodes.has("worker-1") && store.snapshot().nodes.has("worker-4"),
        10_000,
        "relist after 410",
      );
      expect(lists()).toBeGreaterThan(listsBefore);
      expect(lines.some((l) => l.includes('"code":410'))).toBe(true);
    } finally {
      src.stop();
    }
  });
});

/** A BGPPeer whose password is in this Secret's key. */
const passwordPeer = (name: string, secret: string, key: string) => ({
  metadata: { name },
  spec: { peerIP: "203.0.113.61", asNumber: 65061, password: { secretKeyRef: { name: secret, key } } },
});

describe("Secrets", () => {
  // A BGPPeer's password is in a Secret: synced before the Secrets are listed, the peering would
  // be made without its password (a session the peer's TCP-MD5 refuses) and a false warning given.
  it("are listed before the source says synced, however slow their list", async () => {
    api.put(
      "secrets",
      { metadata: { name: "slow-passwords" }, data: { edge: Buffer.from("late").toString("base64") } },
      "kube-system",
    );
    api.put("bgppeers", passwordPeer("slow", "slow-passwords", "edge"));
    const release = api.hold("secrets");
    const { store, lines, src } = source();
    await src.start();
    try {
      await waitFor(
        () =>
          api.requests.some(
            (r) => r.startsWith("GET /api/v1/namespaces/kube-system/secrets") && r.includes("slow-passwords"),
          ),
        10_000,
        "the secret's list asked",
      );
      const listed = (c: string) =>
        lines.some((l) => l.includes("kubernetesListed") && l.includes(`"collection":"${c}"`));
      await waitFor(
        () => ["nodes", "bgppeers", "bgpconfigurations", "bgpfilters", "ippools"].every(listed),
        10_000,
        "the other kinds listed",
      );
      expect(store.synced).toBe(false);
      release();
      await waitFor(() => store.synced, 10_000, "synced");
      expect(store.secret({ name: "slow-passwords", key: "edge" })).toBe("late");
    } finally {
      release();
      src.stop();
      api.remove("bgppeers", "slow");
    }
  });

  // calico/node's documented Role: list and watch of the password Secrets by resourceNames only.
  it("are read by name, so a Role with resourceNames is enough; one not granted is none; one no longer named is dropped", async () => {
    api.put("secrets", { metadata: { name: "not-granted" }, stringData: { k: "v" } }, "kube-system");
    api.put("bgppeers", passwordPeer("ungranted", "not-granted", "k"));
    api.onlyNamed.set("secrets", new Set(["bgp-passwords"]));
    const { store, lines, src } = source();
    await src.start();
    try {
      await waitFor(() => store.synced, 10_000, "synced");
      expect(store.secret({ name: "bgp-passwords", key: "edge" })).toBeDefined();
      expect(store.secret({ name: "not-granted", key: "k" })).toBeUndefined();
      expect(src.connected).toBe(true);
      expect(lines.some((l) => l.includes("kubernetesNotServed") && l.includes("secrets/not-granted"))).toBe(
        true,
      );
      // every request for Secrets names one
      const secretRequests = api.requests.filter((r) => r.includes("/secrets"));
      expect(secretRequests.length).toBeGreaterThan(0);
      for (const r of secretRequests) expect(r).toMatch(/fieldSelector=metadata\.name%3D/);
      // the BGPConfiguration stops naming bgp-passwords: it is no longer held
      api.put("bgpconfigurations", {
        metadata: { name: "default" },
        spec: { nodeToNodeMeshEnabled: false, asNumber: 64513 },
      });
      await waitFor(
        () => store.secret({ name: "bgp-passwords", key: "edge" }) === undefined,
        10_000,
        "the secret no longer named dropped",
      );
    } finally {
      api.onlyNamed.delete("secrets");
      api.remove("bgppeers", "ungranted");
      src.stop();
    }
  });

  // Without a Role for them (RBAC refuses, 403) there are no passwords to read, but the peers
  // are all there: the source syncs, says why, and asks again later.
  it("refused by RBAC: synced with none, connected, and the refusal logged", async () => {
    api.forbidden.add("secrets");
    api.put("bgppeers", passwordPeer("refused", "bgp-passwords", "edge"));
    const { store, lines, src } = source();
    await src.start();
    try {
      await waitFor(() => store.synced, 10_000, "synced without Secrets");
      expect(src.connected).toBe(true);
      expect(store.secret({ name: "bgp-passwords", key: "edge" })).toBeUndefined();
      expect(lines.some((l) => l.includes("kubernetesNotServed") && l.includes('"status":403'))).toBe(true);
    } finally {
      api.forbidden.delete("secrets");
      api.remove("bgppeers", "refused");
      src.stop();
    }
  });
});

describe("stop", () => {
  // A source stopped while a watch was being opened kept that watch: it went on applying events
  // into the store, and the API server's close waited for it forever.
  it("while a watch is being opened: the watch is closed as soon as it opens", async () => {
    const release = api.hold("nodes", "watch");
    const { src } = source();
    await src.start();
    try {
      await waitFor(() => api.heldCount("nodes", "watch") === 1, 10_000, "the nodes watch asked");
      src.stop();
      release();
      await waitFor(() => api.openWatches === 0, 10_000, "every watch of the stopped source closed");
    } finally {
      release();
      src.stop();
    }
  });
});

describe("BGPFilters", () => {
  it("are listed and watched; a cluster without their CRD (Calico before 3.26) syncs with none", async () => {
    api.put("bgpfilters", {
      metadata: { name: "edge" },
      spec: { exportV4: [{ action: "Reject", cidr: "198.18.9.0/24", matchOperator: "Equal" }] },
    });
    const { store, src } = source();
    await src.start();
    try {
      await waitFor(() => store.synced && store.snapshot().filters.has("edge"), 10_000, "the filter listed");
      expect(store.snapshot().filters.get("edge")?.exportV4[0]?.action).toBe("Reject");
      api.put("bgpfilters", { metadata: { name: "edge" }, spec: { exportV4: [{ action: "Accept" }] } });
      await waitFor(
        () => store.snapshot().filters.get("edge")?.exportV4[0]?.action === "Accept",
        10_000,
        "the change watched",
      );
      api.remove("bgpfilters", "edge");
      await waitFor(() => !store.snapshot().filters.has("edge"), 10_000, "the deletion watched");
    } finally {
      src.stop();
    }

    const old = new KubeApiServer("127.0.42.3", "crd.projectcalico.org/v1", false);
    await old.listen();
    const file = join(dir, "kubeconfig-old");
    writeFileSync(file, old.kubeconfig());
    const lines: string[] = [];
    const store2 = new Store();
    const src2 = new KubernetesSource(
      { kubeconfig: file, namespace: "kube-system" },
      store2,
      pino({ level: "debug" }, { write: (l: string) => lines.push(l) }),
    );
    await src2.start();
    try {
      await waitFor(() => store2.synced, 10_000, "synced without BGPFilters");
      expect(store2.snapshot().filters.size).toBe(0);
      expect(lines.some((l) => l.includes("kubernetesNotServed") && l.includes("bgpfilters"))).toBe(true);
      expect(lines.some((l) => l.includes("kubernetesUnreachable"))).toBe(false);
    } finally {
      src2.stop();
      await old.close();
    }
  });
});

describe("projectcalico.org/v3 clusters", () => {
  it("discovers the v3 group when crd.projectcalico.org is not served", async () => {
    const v3 = new KubeApiServer("127.0.42.2", "projectcalico.org/v3");
    await v3.listen();
    const file = join(dir, "kubeconfig-v3");
    writeFileSync(file, v3.kubeconfig());
    v3.put("bgppeers", {
      apiVersion: "projectcalico.org/v3",
      kind: "BGPPeer",
      metadata: { name: "v3-peer" },
      spec: { peerIP: "203.0.113.9", asNumber: 65009 },
    });
    const store = new Store();
    const src = new KubernetesSource(
      { kubeconfig: file, namespace: "kube-system" },
      store,
      pino({ level: "silent" }),
    );
    await src.start();
    try {
      await waitFor(() => store.synced, 10_000, "synced");
      expect(store.snapshot().peers.get("v3-peer")?.asNumber).toBe(65009);
      expect(v3.requests.some((r) => r.startsWith("GET /apis/projectcalico.org/v3/bgppeers"))).toBe(true);
    } finally {
      src.stop();
      await v3.close();
    }
  });

  // Issue 15, finding 2: pathological objects are skipped one by one with their key.
  it("a BGPPeer with a selector nested 20,000 deep is skipped with its key, in the list and in the watch", async () => {
    const deep = `${"(".repeat(20_000)}has(a)${")".repeat(20_000)}`;
    const peer = (name: string, nodeSelector: string) => ({
      metadata: { name },
      spec: { peerIP: "203.0.113.10", asNumber: 65010, nodeSelector },
    });
    api.put("bgppeers", peer("deep-listed", deep));
    api.put("bgppeers", peer("fine-listed", "all()"));
    const { store, lines, src } = source();
    const skipped = (name: string) =>
      lines.some(
        (l) =>
          l.includes("invalid object skipped") &&
          l.includes(`bgppeers/${name}`) &&
          l.includes("nested more than"),
      );
    await src.start();
    try {
      await waitFor(() => store.synced, 10_000, "synced");
      expect(skipped("deep-listed")).toBe(true);
      api.put("bgppeers", peer("deep-watched", deep));
      api.put("bgppeers", peer("fine-watched", "all()"));
      await waitFor(
        () => store.snapshot().peers.has("fine-watched"),
        5000,
        "the next object through the watch",
      );
      expect(skipped("deep-watched")).toBe(true);
      expect(store.snapshot().peers.has("fine-listed")).toBe(true);
      expect(store.snapshot().peers.has("deep-watched")).toBe(false);
    } finally {
      src.stop();
      for (const name of ["deep-listed", "fine-listed", "deep-watched", "fine-watched"])
        api.remove("bgppeers", name);
    }
  });
});
