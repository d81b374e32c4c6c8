// ETCD_DISCOVERY_SRV, as libcalico-go finds etcd: the endpoints come from the SRV records of
// _etcd-client._tcp.DOMAIN (http) and _etcd-client-ssl._tcp.DOMAIN (https). Everything runs in a
// network namespace of the test's own: a real etcd 3.4, a DNS server answering the SRV query,
// and the reflector, whose resolver `ip netns exec` points at that server (it bind-mounts
// /etc/netns/NS/resolv.conf and hosts over /etc's). `config check` reads the datastore through
// the discovered endpoint; a domain without records, and both variables at once, are refused
// with the variable named.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { killOnExit, waitFor, workdir } from "../helpers/lab.js";
import { REPO_ROOT, sharedPath } from "../helpers/shared.js";

const NS = `rrsrv-${process.pid}`;
const ETCD = "127.0.58.9";
const DOMAIN = "calico.test";
const NETNS_ETC = `/etc/netns/${NS}`;
/** /etc/netns, removed after when this test made it */
const hadNetnsDir = existsSync("/etc/netns");
/** Runs a command in the namespace. */
const inNs = (args: string[], options: Parameters<typeof execFileSync>[2] = {}) =>
  execFileSync("ip", ["netns", "exec", NS, ...args], options);

let dns: ChildProcess | undefined;
const etcdDir = workdir("etcd-srv");

function netns(...args: string[]): void {
  execFileSync("bash", [sharedPath("lab", "netns-lab.sh"), ...args], { stdio: "ignore", timeout: 20_000 });
}

/** `routereflector config check` in the namespace, with these variables. */
function check(env: Record<string, string>): { status: number; out: string } {
  const r = spawnSync("ip", ["netns", "exec", NS, process.execPath, CLI, "config", "check"], {
    encoding: "utf8",
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

beforeAll(async () => {
  netns("up", NS, "1");
  mkdirSync(NETNS_ETC, { recursive: true });
  writeFileSync(join(NETNS_ETC, "resolv.conf"), "nameserver 127.0.0.1\n");
  writeFileSync(join(NETNS_ETC, "hosts"), `127.0.0.1 localhost\n${ETCD} etcd1.${DOMAIN}\n`);
  const table = {
    [`_etcd-client._tcp.${DOMAIN}`]: [{ priority: 0, weight: 0, port: 2379, target: `etcd1.${DOMAIN}` }],
  };
  // one process (node with tsx's loader), so that its PID is the server's
  const server = [process.execPath, "--import", "tsx", join(REPO_ROOT, "test/helpers/dns-server.ts")];
  dns = killOnExit(
    spawn("ip", ["netns", "exec", NS, ...server, JSON.stringify(table)], {
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  let ready = false;
  dns.stdout?.on("data", (d: Buffer) => {
    if (d.toString().includes("ready")) ready = true;
  });
  await waitFor(() => ready, 20_000, "the DNS server");
  inNs([sharedPath("lab/start-etcd.sh"), "start", ETCD, etcdDir], { stdio: ["ignore", "pipe", "pipe"] });
  const put = (key: string, value: object) =>
    inNs([join(etcdDir, "etcdctl"), "put", key], { input: JSON.stringify(value) });
  put("/calico/resources/v3/projectcalico.org/bgppeers/rr", {
    kind: "BGPPeer",
    apiVersion: "projectcalico.org/v3",
    metadata: { name: "rr" },
    spec: { peerIP: "127.0.58.1", asNumber: 64512 },
  });
  put("/calico/resources/v3/projectcalico.org/nodes/node-a", {
    kind: "Node",
    apiVersion: "projectcalico.org/v3",
    metadata: { name: "node-a" },
    spec: { bgp: { ipv4Address: "127.0.58.11/24" } },
  });
}, 60_000);

afterAll(() => {
  try {
    inNs([sharedPath("lab/start-etcd.sh"), "stop", etcdDir], { stdio: "ignore" });
  } catch {
    // not started
  }
  dns?.stdout?.destroy();
  dns?.kill("SIGKILL");
  netns("down", NS);
  rmSync(NETNS_ETC, { recursive: true, force: true });
  if (!hadNetnsDir) rmSync("/etc/netns", { recursive: true, force: true });
});

describe("ETCD_DISCOVERY_SRV", () => {
  it("finds etcd through the domain's SRV records and reads the peerings from it", () => {
    const r = check({ IP: "127.0.58.1", ETCD_DISCOVERY_SRV: DOMAIN });
    expect(r.out).toMatch(/legacy mode: router ID 127\.0\.58\.1/);
    expect(r.out).toMatch(/127\.0\.58\.11/);
    expect(r.status).toBe(0);
  });

  it("a domain without the records stops it, naming the variable; both variables at once are refused", () => {
    const none = check({ IP: "127.0.58.1", ETCD_DISCOVERY_SRV: "nothing.test" });
    expect(none.status).toBe(1);
    expect(none.out).toMatch(
      /ETCD_DISCOVERY_SRV nothing\.test: no etcd endpoints found through SRV discovery/,
    );
    const both = check({
      IP: "127.0.58.1",
      ETCD_DISCOVERY_SRV: DOMAIN,
      ETCD_ENDPOINTS: `http://${ETCD}:2379`,
    });
    expect(both.status).toBe(2);
    expect(both.out).toMatch(/ETCD_DISCOVERY_SRV: set either ETCD_ENDPOINTS or ETCD_DISCOVERY_SRV, not both/);
  });
});
