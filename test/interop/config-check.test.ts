// `config check`, the pre-migration check, against the datastores it reads in production: a real
// etcd 3.4 and the Kubernetes API server stand-in. It must print the peerings, name every invalid
// object with its reason, exit 1 when there is one, and exit (not hang on the clients' open
// connections) in every case. Addresses 127.0.51.x.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { KubeApiServer } from "../helpers/kube-apiserver.js";
import { Etcd, workdir } from "../helpers/lab.js";

const RR = "127.0.51.1";
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

/** Runs `config check` without blocking this process (the stand-in answers from here). */
function check(
  env: Record<string, string>,
): Promise<{ status: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, "config", "check"],
      { env: { PATH: process.env.PATH ?? "", IP: RR, HTTP_LISTEN: "off", ...env }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({
          status: err ? ((err as { code?: number }).code ?? -1) : 0,
          stdout,
          stderr,
          ms: Date.now() - started,
        }),
    );
  });
}

/** An etcd with a Node and a BGPPeer that peers it with us. */
function startEtcd(addr: string): Etcd {
  const etcd = new Etcd(addr);
  etcd.start();
  cleanup.push(() => etcd.stop());
  etcd.putResource("nodes", {
    kind: "Node",
    metadata: { name: "a" },
    spec: { bgp: { ipv4Address: "127.0.51.2/32" } },
  });
  etcd.putResource("bgppeers", {
    kind: "BGPPeer",
    metadata: { name: "rr" },
    spec: { peerIP: RR, asNumber: 64512 },
  });
  return etcd;
}

describe("config check", () => {
  it("etcd v3: prints the peerings, names the invalid object and why, exits 1, and exits at once", async () => {
    const etcd = startEtcd("127.0.51.10");
    etcd.putResource("bgppeers", {
      kind: "BGPPeer",
      metadata: { name: "broken" },
      spec: { peerIP: "203.0.113.7" },
    });
    const r = await check({ ETCD_ENDPOINTS: etcd.endpoint });
    expect(r.stdout).toMatch(/^legacy mode: router ID 127\.0\.51\.1, AS 64512/m);
    expect(r.stdout).toMatch(/\| Global_127_0_51_2 \| 127\.0\.51\.2 /);
    expect(r.stderr).toMatch(/error: invalid object skipped: .*bgppeers\/broken.*asNumber/);
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    // and 0 once it is fixed
    etcd.deleteResource("bgppeers", "broken");
    const fixed = await check({ ETCD_ENDPOINTS: etcd.endpoint });
    expect([fixed.status, fixed.stderr]).toEqual([0, ""]);
  }, 60_000);

  it("etcd v3 with authentication on: ETCD_USERNAME and ETCD_PASSWORD, as libcalico-go", async () => {
    const etcd = startEtcd("127.0.51.11");
    etcd.ctl("user", "add", "root", "--new-user-password=rootpw");
    etcd.ctl("user", "grant-role", "root", "root");
    etcd.ctl("user", "add", "calico", "--new-user-password=s3cret");
    etcd.ctl("role", "add", "calico-read");
    etcd.ctl("role", "grant-permission", "calico-read", "--prefix=true", "read", "/calico/");
    etcd.ctl("user", "grant-role", "calico", "calico-read");
    etcd.ctl("auth", "enable");
    cleanup.push(() => etcd.ctl("--user", "root:rootpw", "auth", "disable"));
    const ok = await check({
      ETCD_ENDPOINTS: etcd.endpoint,
      ETCD_USERNAME: "calico",
      ETCD_PASSWORD: "s3cret",
    });
    expect(ok.stdout).toMatch(/\| Global_127_0_51_2 \| 127\.0\.51\.2 /);
    expect([ok.status, ok.stderr]).toEqual([0, ""]);
    // without the user, or with a wrong password: no peerings, exit 1, and a reason
    for (const env of [{}, { ETCD_USERNAME: "calico", ETCD_PASSWORD: "wrong" }] as Record<string, string>[]) {
      const r = await check({ ETCD_ENDPOINTS: etcd.endpoint, ...env });
      expect(r.stdout).not.toMatch(/Global_127_0_51_2/);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toBe("");
    }
  }, 60_000);

  it("Kubernetes: the same through the API server", async () => {
    const api = new KubeApiServer("127.0.51.20");
    await api.listen();
    cleanup.push(() => api.close());
    const kubeconfig = join(workdir("config-check"), "kubeconfig");
    writeFileSync(kubeconfig, api.kubeconfig());
    api.put("nodes", {
      metadata: { name: "a", annotations: { "projectcalico.org/IPv4Address": "127.0.51.2/32" } },
    });
    api.put("bgppeers", { metadata: { name: "rr" }, spec: { peerIP: RR, asNumber: 64512 } });
    api.put("bgppeers", { metadata: { name: "broken" }, spec: { peerIP: "203.0.113.7" } });
    const r = await check({ DATASTORE_TYPE: "kubernetes", KUBECONFIG: kubeconfig });
    expect(r.stdout).toMatch(/^legacy mode: router ID 127\.0\.51\.1, AS 64512/m);
    expect(r.stdout).toMatch(/\| Global_127_0_51_2 \| 127\.0\.51\.2 /);
    expect(r.stderr).toMatch(/error: invalid object skipped: .*broken.*asNumber/);
    expect(r.status).toBe(1);
    expect(r.ms).toBeLessThan(15_000);

    // calico/node's K8S_* variables instead of a kubeconfig, and over one
    const dir = workdir("config-check-k8s");
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, api.cert);
    api.remove("bgppeers", "broken");
    const endpoint = { DATASTORE_TYPE: "kubernetes", K8S_API_ENDPOINT: api.url };
    for (const env of [
      { ...endpoint, K8S_CA_FILE: ca, K8S_API_TOKEN: api.token },
      { ...endpoint, K8S_INSECURE_SKIP_TLS_VERIFY: "true", K8S_API_TOKEN: api.token },
      // a client certificate instead of a token
      { ...endpoint, K8S_CA_FILE: ca, K8S_CERT_FILE: api.clientCert, K8S_KEY_FILE: api.clientKey },
    ]) {
      const good = await check(env);
      expect(good.stdout).toMatch(/\| Global_127_0_51_2 \| 127\.0\.51\.2 /);
      expect([good.status, good.stderr]).toEqual([0, ""]);
    }
    for (const env of [
      { ...endpoint, K8S_CA_FILE: ca, K8S_API_TOKEN: "not-the-token" },
      // the token over the kubeconfig's
      { DATASTORE_TYPE: "kubernetes", KUBECONFIG: kubeconfig, K8S_API_TOKEN: "not-the-token" },
      // no CA: the stand-in's self-signed certificate is not trusted
      { ...endpoint, K8S_API_TOKEN: api.token },
      // neither a token nor a client certificate
      { ...endpoint, K8S_CA_FILE: ca },
    ] as Record<string, string>[]) {
      const bad = await check(env);
      expect(bad.stdout).not.toMatch(/Global_127_0_51_2/);
      expect(bad.status).toBe(1);
    }
  }, 120_000);
});
