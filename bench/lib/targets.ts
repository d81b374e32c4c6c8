// The route reflectors a load run drives: ours (the built CLI on a generated file datastore) and
// BIRD 2, GoBGP and FRR through ../shared/lab's start scripts with generated client lists. Every
// one is passive, iBGP AS 64512, cluster ID 224.0.0.1, on one loopback address; stopped by PID.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { clientAddress, clientAddress6 } from "./plan.js";
import { repoRoot } from "./report.js";
import { sharedDir } from "./shared.js";

export type Kind = "ours" | "bird" | "gobgp" | "frr";
export const KINDS: readonly Kind[] = ["ours", "bird", "gobgp", "frr"];

const ROOT = repoRoot();
const LAB = resolve(sharedDir(), "lab");

export interface Usage {
  /** user and system time */
  cpuMs: number;
  /** of which in the kernel (socket reads and writes, mostly) */
  systemMs: number;
  peakRssKiB: number;
  rssKiB: number;
}

/** CPU time and memory of a process, from /proc. */
export function usage(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return {
    cpuMs: ticks * 10,
    systemMs: Number(fields[12]) * 10,
    peakRssKiB: kib("VmHWM"),
    rssKiB: kib("VmRSS"),
  };
}

export interface Target {
  kind: Kind;
  addr: string;
  port: number;
  pid: number;
  /** SIGKILL: a crash; SIGTERM: as Kubernetes stops a pod (the lab scripts always TERM) */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** ours: the end of what it has written to stdout (its log lines at warning level and above) */
  output?(): string;
}

/**
 * The IPv4 address of a reflector on an IPv6 address: 127.254.X.Y from its last hextet, as the lab
 * scripts take their router ID (inside the run's network namespace, where 127.0.0.0/8 is on lo).
 */
function routerIdOf(addr: string): string {
  if (!net.isIPv6(addr)) return addr;
  const last = Number.parseInt(addr.slice(addr.lastIndexOf(":") + 1) || "0", 16);
  return `127.254.${last >> 8}.${last & 255}`;
}

/** A reflector's Calico Node addresses: IPv4, or for IPv6 its router ID and the IPv6 address. */
function nodeAddresses(addr: string): string {
  const v4 = `ipv4Address: ${routerIdOf(addr)}/32`;
  return net.isIPv6(addr) ? `${v4}, ipv6Address: ${addr}/128` : v4;
}

/** The YAML our reflector runs on: node mode as the Calico Node "rr", every client a global peer. */
function oursYaml(addr: string, clients: readonly string[], gracefulRestart: boolean): string {
  const docs = [
    "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {asNumber: 64512, nodeToNodeMeshEnabled: false, logSeverityScreen: Warning}",
    `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: rr, labels: {route-reflector: "true"}}\nspec: {bgp: {${nodeAddresses(addr)}, routeReflectorClusterID: 224.0.0.1}}`,
    // Global (no nodeSelector): towards a Calico node with a higher address we are passive.
    `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: clients}\nspec: {peerSelector: has(client)${gracefulRestart ? ", maxRestartTime: 120s" : ""}}`,
  ];
  clients.forEach((a, i) => {
    docs.push(
      `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: c${i}, labels: {client: ""}}\nspec: {bgp: {${net.isIPv6(a) ? `ipv6Address: ${a}/128` : `ipv4Address: ${a}/32`}}}`,
    );
  });
  return docs.join("\n---\n");
}

/** Whether something accepts connections at addr:port (from an address no peer uses). */
function portOpen(addr: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // (IPv6, in the run's namespace: from the reflector's own address, which is no peer either)
    const s = net.connect({ host: addr, port, localAddress: net.isIPv6(addr) ? addr : "127.0.50.250" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Our reflector on addr, with these client addresses (Calico Nodes with a higher address: passive). */
export async function startOurs(
  addr: string,
  clients: readonly string[],
  gracefulRestart = false,
): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "rr-bench-ours-"));
  const file = join(dir, "calico.yaml");
  writeFileSync(file, oursYaml(addr, clients, gracefulRestart));
  // RR_CPU_PROF=dir: profile our reflector (node --cpu-prof), written when it stops
  const prof = process.env.RR_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.RR_CPU_PROF] : [];
  // RR_NODE_ARGS: extra node options for our reflector (experiments with V8 flags)
  const extra = process.env.RR_NODE_ARGS ? process.env.RR_NODE_ARGS.split(" ") : [];
  const proc: ChildProcess = spawn(process.execPath, [...prof, ...extra, resolve(ROOT, "dist/cli.js")], {
    env: {
      PATH: process.env.PATH ?? "",
      NODENAME: "rr",
      IP: routerIdOf(addr),
      ...(net.isIPv6(addr) ? { IP6: addr } : {}),
      DATASTORE_FILE: file,
      HTTP_LISTEN: "off",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.length > 1e6) out = out.slice(-1e5);
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  // Warning level hides the start line; the port answering is the sign.
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(addr, 179))) {
    if (proc.exitCode !== null) throw new Error(`our reflector exited: ${out}`);
    if (Date.now() > deadline) throw new Error("our reflector did not listen within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: "ours",
    addr,
    port: 179,
    pid: proc.pid as number,
    output: () => out,
    stop: async (signal: NodeJS.Signals = "SIGKILL") => {
      // SIGTERM lets a profile be written
      if (proc.exitCode === null) proc.kill(prof.length ? "SIGTERM" : signal);
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const SCRIPTS: Record<Exclude<Kind, "ours">, string> = {
  bird: "start-bird-rr.sh",
  gobgp: "start-gobgp-rr.sh",
  frr: "start-frr-rr.sh",
};

export async function startLab(
  kind: Exclude<Kind, "ours">,
  addr: string,
  clientList: readonly string[],
): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), `rr-bench-${kind}-`));
  const clients = clientList.join(" ");
  const script = join(LAB, SCRIPTS[kind]);
  const pid = Number(
    execFileSync(script, ["start", addr, dir], {
      encoding: "utf8",
      env: {
        ...process.env,
        RR_CLIENTS: clients,
        CLUSTER_ID: "224.0.0.1",
        PASSIVE: "1",
        HOLD_TIME: "9",
        LOG_LEVEL: "warn",
      },
      timeout: 300_000,
    }).trim(),
  );
  return {
    kind,
    addr,
    port: 179,
    pid,
    stop: async () => {
      execFileSync(script, ["stop", dir], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function startTarget(kind: Kind, addr: string, n: number, gracefulRestart = false): Promise<Target> {
  const clients = Array.from({ length: n }, (_, i) =>
    net.isIPv6(addr) ? clientAddress6(i) : clientAddress(i),
  );
  return kind === "ours" ? startOurs(addr, clients, gracefulRestart) : startLab(kind, addr, clients);
}

/** The versions of everything a run compares. */
export function versions(): Record<string, string> {
  // BIRD prints its version on stderr; take the first line of either stream
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n")[0] || "unknown";
  };
  const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string };
  return {
    ours: `routereflector ${pkg.version}`,
    bird: run("bird", ["--version"]),
    gobgp: run("gobgpd", ["--version"]),
    frr: run("/usr/lib/frr/bgpd", ["--version"]),
    node: process.version,
  };
}
