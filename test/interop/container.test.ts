// The image, built from the Dockerfile (scripts/container-image.sh) and run as the old
// calico/routereflector was: `-e IP=... -e ETCD_ENDPOINTS=...` on the host's network, then with
// the Kubernetes datastore's variables and a kubeconfig mounted in. Real etcd 3.4, the API server
// stand-in and two BIRD 2 clients on loopback. It runs on the image's own Node.js (24), as the
// image's user, with the image's HEALTHCHECK command; test/helpers/image.ts says how. Addresses
// 127.0.61.x.
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Daemon } from "../helpers/cli.js";
import { Image } from "../helpers/image.js";
import { KubeApiServer } from "../helpers/kube-apiserver.js";
import { type Bird, Etcd, startBird, waitFor, workdir } from "../helpers/lab.js";

const IP = "127.0.61.1";
const ETCD = "127.0.61.9";
const API = "127.0.61.10";
const HTTP = `${IP}:9179`;
const CLUSTER_ID = "224.0.0.61";
/** the second run's: routes carrying it were reflected by that run, not kept from the first */
const CLUSTER_ID_2 = "224.0.0.62";
const NODES = [
  { name: "node-a", ip: "127.0.61.2", route: "198.18.61.0/26" },
  { name: "node-b", ip: "127.0.61.3", route: "198.18.61.64/26" },
];

let image: Image;
let etcd: Etcd;
let api: KubeApiServer;
const birds: Bird[] = [];
const dir = workdir("container");

beforeAll(async () => {
  image = Image.build();
  etcd = new Etcd(ETCD);
  etcd.start();
  api = new KubeApiServer(API);
  await api.listen();
  // mounted into the container, read by its user (uid 1000) as a Secret volume would be
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "kubeconfig"), api.kubeconfig(), { mode: 0o644 });
  // the same cluster in both datastores: no mesh, a global BGPPeer at the reflector (legacy mode)
  const config = { asNumber: 64512, nodeToNodeMeshEnabled: false };
  etcd.putResource("bgpconfigurations", {
    kind: "BGPConfiguration",
    metadata: { name: "default" },
    spec: config,
  });
  api.put("bgpconfigurations", { metadata: { name: "default" }, spec: config });
  const rr = { peerIP: IP, asNumber: 64512 };
  etcd.putResource("bgppeers", { kind: "BGPPeer", metadata: { name: "rr" }, spec: rr });
  api.put("bgppeers", { metadata: { name: "rr" }, spec: rr });
  for (const n of NODES) {
    etcd.putResource("nodes", {
      kind: "Node",
      metadata: { name: n.name },
      spec: { bgp: { ipv4Address: `${n.ip}/24` } },
    });
    api.put("nodes", {
      metadata: { name: n.name, annotations: { "projectcalico.org/IPv4Address": `${n.ip}/24` } },
    });
    birds.push(
      await startBird(`container-${n.name}`, {
        addr: n.ip,
        peer: { addr: IP, port: 179, asn: 64512 },
        routes: [n.route],
        gracefulRestart: true,
      }),
    );
  }
}, 600_000);

afterAll(async () => {
  await Promise.all(birds.map((b) => b.stop()));
  etcd?.stop();
  await api?.close();
  image?.unmount();
});

/** A command in the container (as `podman exec` or `kubectl exec` runs it); its standard output. */
const exec = (argv: string[], env: Record<string, string> = {}): string => {
  const [cmd, ...args] = image.command({ env, entrypoint: argv, args: [] }) as [string, ...string[]];
  return execFileSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
};

/** Runs the image's HEALTHCHECK command in the container's environment; its exit code. */
const healthy = (env: Record<string, string>): number => {
  try {
    const [cmd, ...args] = image.healthcheck(env) as [string, ...string[]];
    execFileSync(cmd, args, { stdio: "ignore", timeout: 10_000 });
    return 0;
  } catch (e) {
    return (e as { status?: number }).status ?? -1;
  }
};

/** Both clients Established and each holding the other's route, reflected with our cluster ID. */
async function reflected(rr: Daemon, clusterId: string, what: string): Promise<void> {
  await waitFor(
    () =>
      birds.every((b) => b.protocol().info === "Established") &&
      birds.every((b, i) => b.routeFor(NODES[1 - i]!.route).includes(`BGP.cluster_list: ${clusterId}`)),
    60_000,
    what,
  ).catch((e: Error) => {
    const tail = rr.lines.slice(-8).map((l) => JSON.stringify(l));
    throw new Error(
      `${e.message}\nexit ${rr.proc.exitCode}; stderr: ${rr.stderr.join("")}\n${tail.join("\n")}`,
    );
  });
}

describe("the container image", () => {
  it("is on Node.js 24, runs as the unprivileged node user, and has the CLI on PATH", () => {
    expect(image.config.User).toBe("node");
    expect(image.uid).toBe(1000);
    expect(exec(["node", "--version"])).toMatch(/^v24\./);
    expect(exec(["routereflector", "--help"])).toMatch(/^usage: routereflector/m);
  });

  it("run as the old image, -e IP= -e ETCD_ENDPOINTS=: binds port 179 as the node user, reflects, is healthy, and stops cleanly on SIGTERM", async () => {
    const env = { IP, ETCD_ENDPOINTS: etcd.endpoint, CLUSTER_ID, HTTP_LISTEN: HTTP };
    expect(healthy(env)).not.toBe(0); // nothing runs yet
    const rr = new Daemon({}, [], image.command({ env }), []);
    let code: number | null = null;
    try {
      await reflected(rr, CLUSTER_ID, "routes reflected by the container");
      // port 179 on IP, held by the container's process, which runs as uid 1000
      const pid = rr.proc.pid as number;
      const listening = execFileSync("ss", ["-Htlnp", "src", `${IP}:179`]).toString();
      expect(listening).toContain(`pid=${pid},`);
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
      expect(healthy(env)).toBe(0);
      // kubectl exec ... routereflector status: the CLI inside asks the running process
      const status = exec(["routereflector", "status"], env);
      for (const n of NODES) expect(status).toMatch(new RegExp(`${n.ip.replace(/\./g, "\\.")}.*Established`));
      // the metrics say which runtime it is
      const metrics = await (await fetch(`http://${HTTP}/metrics`)).text();
      expect(metrics).toMatch(/routereflector_build_info\{[^}]*nodejs="24\./);
    } finally {
      code = await rr.stop("SIGTERM");
    }
    expect([code, rr.stderr.join("")]).toEqual([0, ""]);
    expect(rr.lines.filter((l) => l.event === "shuttingDownRetained" && l.signal === "SIGTERM")).toHaveLength(
      1,
    );
    // a planned restart: graceful-restart clients keep the routes while it is away
    for (const [i, b] of birds.entries()) expect(b.routeFor(NODES[1 - i]!.route)).not.toBe("");
    expect(healthy(env)).not.toBe(0);
  }, 120_000);

  it("with the Kubernetes datastore's variables and a kubeconfig mounted in: the same routes, from the API server", async () => {
    const env = {
      IP,
      DATASTORE_TYPE: "kubernetes",
      KUBECONFIG: "/mnt/kubeconfig",
      CLUSTER_ID: CLUSTER_ID_2,
      HTTP_LISTEN: HTTP,
    };
    const listsBefore = api.requests.filter((r) => r.startsWith("GET /api/v1/nodes")).length;
    const rr = new Daemon({}, [], image.command({ env, volumes: { [dir]: "/mnt" } }), []);
    let code: number | null = null;
    try {
      await reflected(rr, CLUSTER_ID_2, "routes reflected by the container from the Kubernetes datastore");
      expect(api.requests.filter((r) => r.startsWith("GET /api/v1/nodes")).length).toBeGreaterThan(
        listsBefore,
      );
      expect(healthy(env)).toBe(0);
    } finally {
      code = await rr.stop("SIGTERM");
    }
    expect([code, rr.stderr.join("")]).toEqual([0, ""]);
  }, 120_000);
});
