// End to end on the Kubernetes datastore in node mode: the reflector is the Calico Node rr-1 (a
// routeReflectorClusterID), BIRD 2 clients are Nodes selected by a BGPPeer whose password is a
// Secret (TCP MD5). Watches closed and answered with 410 Gone disturb no session. Addresses
// 127.0.43.x.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Daemon } from "../helpers/cli.js";
import { KubeApiServer } from "../helpers/kube-apiserver.js";
import { labRoutes, sinceMoved, startBird, waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";
import { REPO_ROOT } from "../helpers/shared.js";

const RR = "127.0.43.1";
const A = "127.0.43.2";
const B = "127.0.43.3";
const PASSWORD = "kdd-s3cret";

const node = (
  name: string,
  ip: string,
  labels: Record<string, string> = {},
  extra: Record<string, string> = {},
) => ({
  metadata: { name, labels, annotations: { "projectcalico.org/IPv4Address": `${ip}/32`, ...extra } },
});

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("Kubernetes datastore end to end, node mode", () => {
  it("the reflector node peers with the selected nodes, with the password from a Secret", async (ctx) => {
    reliability(ctx, {
      scenario: "Secrets stay secret; watches closed and 410 Gone end to end",
      load: "the built CLI on the Kubernetes stand-in with BIRD 2 clients using TCP MD5 passwords from a Secret",
      fault: "every watch closed, then 410 Gone",
      checked: "no password in any log line, status or metrics; sessions untouched by the relist",
    });
    const api = new KubeApiServer("127.0.43.10");
    await api.listen();
    // the API server authorises Secrets as deploy/rbac.yaml's Role does: only those it names
    const role = parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy/rbac.yaml"), "utf8"))
      .map((d) => d.toJS() as { kind: string; rules?: { resources: string[]; resourceNames?: string[] }[] })
      .find((d) => d.kind === "Role");
    const granted = role?.rules?.find((r) => r.resources.includes("secrets"))?.resourceNames ?? [];
    expect(granted).toContain("bgp-secrets");
    api.onlyNamed.set("secrets", new Set(granted));
    cleanup.push(() => api.close());
    const kubeconfig = join(workdir("kdd-e2e"), "kubeconfig");
    writeFileSync(kubeconfig, api.kubeconfig());

    api.put(
      "nodes",
      node(
        "rr-1",
        RR,
        { "route-reflector": "true" },
        { "projectcalico.org/RouteReflectorClusterID": "224.0.0.43" },
      ),
    );
    api.put("nodes", node("bird-a", A));
    api.put("nodes", node("bird-b", B));
    api.put("bgpconfigurations", { metadata: { name: "default" }, spec: { nodeToNodeMeshEnabled: false } });
    api.put("bgppeers", {
      metadata: { name: "peer-with-route-reflectors" },
      spec: {
        nodeSelector: "!has(route-reflector)",
        peerSelector: "has(route-reflector)",
        password: { secretKeyRef: { name: "bgp-secrets", key: "rr" } },
      },
    });
    api.put("secrets", { metadata: { name: "bgp-secrets" }, stringData: { rr: PASSWORD } }, "kube-system");

    const http = "127.0.43.1:9179";
    const rr = new Daemon({
      DATASTORE_TYPE: "kubernetes",
      KUBECONFIG: kubeconfig,
      NODENAME: "rr-1",
      HTTP_LISTEN: http,
    });
    cleanup.push(() => rr.stop("SIGKILL"));
    const peerOf = { addr: RR, port: 179, asn: 64512 };
    const a = await startBird("kdd-a", {
      addr: A,
      peer: peerOf,
      password: PASSWORD,
      routes: ["198.18.43.0/24"],
    });
    const b = await startBird("kdd-b", {
      addr: B,
      peer: peerOf,
      password: PASSWORD,
      routes: ["198.18.44.0/24"],
    });
    cleanup.push(
      () => a.stop(),
      () => b.stop(),
    );
    await waitFor(
      () => a.protocol().info === "Established" && b.protocol().info === "Established",
      30_000,
      "both Established",
    );
    const started = await rr.until("BGP listening", { event: "started" });
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      mode: "node",
      node: "rr-1",
      clusterId: "224.0.0.43",
      listen: ["127.0.43.1:179"],
      peers: 2,
    });
    // no password in any log line, nor in status, routes or metrics
    expect(JSON.stringify(rr.lines)).not.toContain(PASSWORD);
    for (const path of ["status", "routes", "metrics"]) {
      const body = await (await fetch(`http://${http}/${path}`)).text();
      expect(body.length).toBeGreaterThan(0);
      expect(body).not.toContain(PASSWORD);
    }

    await waitFor(
      () => labRoutes("bird", b.dir).some((r) => r.prefix === "198.18.43.0/24"),
      20_000,
      "a's route at b",
    );
    const route = labRoutes("bird", b.dir).find((r) => r.prefix === "198.18.43.0/24");
    expect(route).toMatchObject({ originator_id: A, cluster_list: ["224.0.0.43"] });

    // the API server ends its watches, forgets history, answers 410 Gone: sessions untouched
    const before = { a: a.protocol().since, b: b.protocol().since };
    // in one turn of the event loop, so the reflector cannot resume before the compaction
    api.closeWatches();
    api.put("nodes", node("bird-c", "127.0.43.4"));
    api.compact();
    await waitFor(
      () => rr.logged("peer added", { peer: "127.0.43.4" }).length === 1,
      20_000,
      "bird-c after the relist",
    );
    expect(rr.logged("listed", { collection: "nodes" }).length).toBe(2);
    expect(a.protocol().info).toBe("Established");
    expect(b.protocol().info).toBe("Established");
    expect(sinceMoved(before.a, a.protocol().since)).toBeLessThan(10);
    expect(sinceMoved(before.b, b.protocol().since)).toBeLessThan(10);
    // the Kubernetes source's lines carry their collection once
    expect(rr.duplicated).toEqual([]);
    expect(await rr.stop()).toBe(0);
  }, 120_000);
});
