// Real BGP speakers for interop tests, started by the test on loopback addresses and stopped by
// PID. BIRD configs are generated here (for options the lab scripts do not take); GoBGP, FRR and
// ExaBGP go through ../shared/lab's start scripts.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Listener } from "../../src/fsm/index.js";
import { PEER_DEFAULTS } from "../../src/reflector/defaults.js";
import type { NeighborConfig } from "../../src/reflector/neighbor.js";
import { type Peer, Reflector, type ReflectorObserver } from "../../src/reflector/reflector.js";
import { REPO_ROOT, sharedPath } from "./shared.js";
import { workdir } from "./workdir.js";

export { workdir };

/** `what` names the condition in the timeout's error; a function, to tell the state at that moment. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string | (() => string),
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BirdOptions {
  addr: string;
  port?: number;
  routerId?: string;
  asn?: number;
  peer: { addr: string; port: number; asn: number };
  /** a second reflector, as protocol ours2 (BIRD 2 only) */
  alsoPeer?: { addr: string; port: number; asn: number };
  passive?: boolean;
  holdTime?: number;
  as4?: boolean;
  gracefulRestart?: boolean;
  password?: string;
  routes?: string[];
  routesFile?: string;
  nextHop?: string;
  /** RFC 5082 GTSM: send with TTL 255 and require 255 ("ttl security on; multihop 1") */
  ttlSecurity?: boolean;
  /** BIRD filter statements applied to the routes BIRD exports to us, e.g. "bgp_med = 10;" */
  exportAttrs?: string;
  /** run inside this network namespace (netns-lab.sh) */
  netns?: string;
  /** BIRD 1.6, the base of calico/node's fork (unpacked into .cache/bird1 by install-system-deps.sh) */
  bird1?: boolean;
  /** RFC 7911 both ways, as calico/node's bgp_template ("add paths on") */
  addPaths?: boolean;
  /** started with -R (graceful restart recovery), as calico/node runs its BIRD: after a restart it
   * announces Restart State with its forwarding state kept, so its peers keep its routes until its
   * End-of-RIB (RFC 4724 §4.2); without it they drop them at once */
  recovery?: boolean;
  /** a whole configuration of the test's own, instead of the client generated from the options above */
  configText?: (dir: string) => string;
}

const BIRD1 = join(REPO_ROOT, ".cache/bird1/usr/sbin");

/** Every process started here, killed by PID if the test run exits without stopping them. */
const started = new Set<ChildProcess>();

/** Has a process a test started killed by PID if the test run exits without stopping it. */
export function killOnExit<T extends ChildProcess>(p: T): T {
  started.add(p);
  return p;
}
process.once("exit", () => {
  for (const p of started) if (p.exitCode === null) p.kill("SIGKILL");
});

export class Bird {
  private proc: ChildProcess | undefined;
  constructor(
    readonly dir: string,
    readonly options: BirdOptions,
  ) {}

  config(): string {
    const o = this.options;
    if (o.configText) return o.configText(this.dir);
    if (o.bird1) return this.config1();
    const v6 = o.addr.includes(":");
    const af = v6 ? "ipv6" : "ipv4";
    const nh = o.nextHop ?? (v6 ? "2001:db8:ffff::11" : `203.0.113.${o.addr.split(".")[3]}`);
    const routes = (o.routes ?? [])
      .map((r) => `  route ${r} unreachable { bgp_next_hop = ${nh}; };`)
      .join("\n");
    const file = o.routesFile ? `  include "${o.routesFile}";` : "";
    return `log "${this.dir}/bird.log" all;
router id ${o.routerId ?? o.addr};
protocol device { scan time 60; }
protocol static st { ${af};
${routes}
${file}
}
${[o.peer, ...(o.alsoPeer ? [o.alsoPeer] : [])]
  .map(
    (peer, i) => `protocol bgp ours${i ? i + 1 : ""} {
  local ${o.addr} port ${o.port ?? 179} as ${o.asn ?? 64512};
  neighbor ${peer.addr} port ${peer.port} as ${peer.asn};
  strict bind yes;
  hold time ${o.holdTime ?? 90}; connect delay time 1; connect retry time 2; error wait time 1, 2;
${o.passive ? "  passive on;" : ""}
${o.as4 === false ? "  enable as4 off;" : ""}
${o.gracefulRestart ? "  graceful restart on;" : ""}
${o.password ? `  password "${o.password}";` : ""}
${o.ttlSecurity ? "  ttl security on; multihop 1;" : ""}
  ${af} { import all; export ${o.exportAttrs ? `filter { ${o.exportAttrs} accept; }` : "all"};${o.addPaths ? " add paths on;" : ""} };
}`,
  )
  .join("\n")}
`;
  }

  /** The same client in BIRD 1.6's language (IPv4 only; bird6 is another program). */
  private config1(): string {
    const o = this.options;
    const nh = o.nextHop ?? `203.0.113.${o.addr.split(".")[3]}`;
    return `log "${this.dir}/bird.log" all;
router id ${o.routerId ?? o.addr};
listen bgp address ${o.addr} port ${o.port ?? 179};
protocol device { scan time 60; }
protocol static st {
${(o.routes ?? []).map((r) => `  route ${r} unreachable;`).join("\n")}
}
protocol bgp ours {
  local ${o.addr} as ${o.asn ?? 64512};
  neighbor ${o.peer.addr} port ${o.peer.port} as ${o.peer.asn};
  source address ${o.addr};
  hold time ${o.holdTime ?? 90}; connect delay time 1; connect retry time 2; error wait time 1, 2;
${o.gracefulRestart ? "  graceful restart on;" : ""}
${o.addPaths ? "  add paths on;" : ""}
  import all;
  export filter { bgp_next_hop = ${nh}; accept; };
}
`;
  }

  start(): void {
    writeFileSync(join(this.dir, "bird.conf"), this.config());
    // The same wrapper the lab scripts write, so lab-check.py can read BIRD's routes.
    const birdc = this.options.bird1 ? join(BIRD1, "birdc") : "birdc";
    writeFileSync(join(this.dir, "birdc"), `#!/bin/sh\nexec ${birdc} -s "${this.dir}/bird.ctl" "$@"\n`, {
      mode: 0o755,
    });
    const log = openSync(join(this.dir, "bird.out"), "a");
    const inNetns = this.options.netns ? ["netns", "exec", this.options.netns, "bird"] : [];
    const bird = this.options.bird1 ? join(BIRD1, "bird") : "bird";
    if (inNetns.length) inNetns[inNetns.length - 1] = bird;
    this.proc = spawn(
      inNetns.length ? "ip" : bird,
      [
        ...inNetns,
        "-f",
        ...(this.options.recovery ? ["-R"] : []),
        "-c",
        join(this.dir, "bird.conf"),
        "-s",
        join(this.dir, "bird.ctl"),
        "-P",
        join(this.dir, "bird.pid"),
      ],
      { stdio: ["ignore", log, log] },
    );
    started.add(this.proc);
  }

  birdc(...args: string[]): string {
    const birdc = this.options.bird1 ? join(BIRD1, "birdc") : "birdc";
    return execFileSync(birdc, ["-s", join(this.dir, "bird.ctl"), ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  /** `show route for PREFIX all`: the route's attributes, or "" without one (BIRD 2's birdc then exits non-zero). */
  routeFor(prefix: string): string {
    try {
      return this.birdc("show", "route", "for", prefix, "all");
    } catch {
      return "";
    }
  }

  /** Our session as `birdc show protocols` shows it: state (up, start), since, info (Established, ...). */
  protocol(name = "ours"): { state: string; since: string; info: string } {
    const line = this.birdc("show", "protocols", name)
      .split("\n")
      .find((l) => l.startsWith(`${name} `));
    const [, , , state = "", since = "", ...info] = (line ?? "").trim().split(/\s+/);
    return { state, since, info: info.join(" ") };
  }

  /** Stops BIRD by its PID: TERM (BIRD sends Cease), or KILL (the connection just drops). */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once("exit", () => resolve());
      p.kill(signal);
    });
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, "bird.log"), "utf8");
    } catch {
      return "";
    }
  }
}

/**
 * How far (ms) BIRD's "since" of a protocol moved. BIRD keeps it on its monotonic clock and
 * prints it as wall time, so two reads of the same moment can differ by a millisecond; a session
 * that was reset would move by seconds (its connect delay and the OPEN exchange).
 */
export function sinceMoved(before: string, now: string): number {
  const ms = (t: string) => {
    const [h = 0, m = 0, s = 0] = t.split(":").map(Number);
    return ((h * 60 + m) * 60 + s) * 1000;
  };
  return Math.abs(ms(now) - ms(before));
}

export async function startBird(name: string, o: BirdOptions): Promise<Bird> {
  const b = new Bird(workdir(name), o);
  b.start();
  await waitFor(
    () => {
      try {
        b.birdc("show", "status");
        return true;
      } catch {
        return false;
      }
    },
    10_000,
    "BIRD's control socket",
  );
  return b;
}

export interface LabRoute {
  prefix: string;
  next_hop: string | null;
  originator_id: string | null;
  cluster_list: string[];
  as_path: string;
}

/** ../shared/lab/lab-check.py: the routes a speaker holds, read back the same way for every kind. */
export function labRoutes(kind: "bird" | "gobgp" | "frr" | "exabgp", dir: string, af = "ipv4"): LabRoute[] {
  const out = execFileSync("python3", [sharedPath("lab", "lab-check.py"), "routes", kind, dir, af], {
    encoding: "utf8",
    timeout: 20_000,
  });
  return JSON.parse(out) as LabRoute[];
}

/**
 * gobgpd as a client of `peer` with graceful restart (RFC 4724, with the RFC 8538 N bit) for
 * IPv4 unicast, which the lab script does not configure; `routes` are injected through its API.
 * Stopped by its PID.
 */
export async function startGobgpClient(
  addr: string,
  peer: string,
  routes: string[],
): Promise<{ dir: string; gobgp: (...args: string[]) => string; stop: () => void }> {
  const dir = workdir("gobgp-gr");
  const sock = join(dir, "gobgp.sock");
  writeFileSync(
    join(dir, "gobgpd.toml"),
    `[global.config]
  as = 64512
  router-id = "${addr}"
  port = 179
  local-address-list = ["${addr}"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "${peer}"
    peer-as = 64512
  [neighbors.transport.config]
    local-address = "${addr}"
  [neighbors.timers.config]
    hold-time = 90
    keepalive-interval = 30
    connect-retry = 1
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
    notification-enabled = true
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
`,
  );
  const log = openSync(join(dir, "gobgpd.log"), "a");
  const proc = spawn(
    "gobgpd",
    [
      "-f",
      join(dir, "gobgpd.toml"),
      "-t",
      "toml",
      "-p",
      "-l",
      "info",
      "--api-hosts",
      `unix://${sock}`,
      "--pprof-disable",
    ],
    { stdio: ["ignore", log, log] },
  );
  started.add(proc);
  const gobgp = (...args: string[]) =>
    execFileSync("gobgp", ["--target", `unix://${sock}`, ...args], { encoding: "utf8", timeout: 10_000 });
  await waitFor(
    () => {
      try {
        gobgp("global");
        return true;
      } catch {
        return false;
      }
    },
    10_000,
    "gobgpd's API",
  );
  for (const r of routes)
    gobgp("global", "rib", "add", r, "nexthop", `203.0.113.${addr.split(".")[3]}`, "-a", "ipv4");
  return { dir, gobgp, stop: () => proc.kill("SIGTERM") };
}

/** A lab start script (start-gobgp-rr.sh, start-frr-rr.sh, start-exabgp.sh): start, and stop by PID. */
export class LabSpeaker {
  constructor(
    readonly script: string,
    readonly addr: string,
    readonly dir: string,
  ) {}

  static start(script: string, addr: string, env: Record<string, string>): LabSpeaker {
    const dir = workdir(script.replace(/\.sh$/, ""));
    execFileSync("bash", [sharedPath("lab", script), addr, dir], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
    return new LabSpeaker(script, addr, dir);
  }

  run(cli: string, ...args: string[]): string {
    return execFileSync(join(this.dir, cli), args, { encoding: "utf8", timeout: 10_000 });
  }

  stop(): void {
    execFileSync("bash", [sharedPath("lab", this.script), "stop", this.dir], {
      stdio: "ignore",
      timeout: 20_000,
    });
  }
}

/** Our side: a listener on `addr` and one Peer per configured neighbour. */
/** Our side of a peer-level interop test: a reflector listening on one address, with per-peer events. */
export class Ours {
  readonly listener: Listener;
  readonly reflector: Reflector;
  private readonly events = new Map<string, ReflectorObserver>();

  constructor(readonly addr: string) {
    const of = (p: Peer) => this.events.get(p.address);
    this.reflector = new Reflector(
      { routerId: addr.includes(":") ? "203.0.113.254" : addr, localAs: 64512 },
      undefined,
      {
        stateChange: (p, ...rest) => of(p)?.stateChange?.(p, ...rest),
        down: (p, ...rest) => of(p)?.down?.(p, ...rest),
        routeRefresh: (p, ...rest) => of(p)?.routeRefresh?.(p, ...rest),
      },
    );
    this.listener = new Listener((remote) => this.reflector.peer(remote)?.session);
  }

  /** Call after listen(): a peer with a password gets its TCP MD5 key on the listening socket. */
  add(
    options: Omit<NeighborConfig, "localAddress" | "clusterId"> & { clusterId?: string },
    events: ReflectorObserver = {},
  ): Peer {
    if (options.password !== undefined) this.listener.setMd5Key(options.peerAddress, options.password);
    this.events.set(options.peerAddress, events);
    return this.reflector.addPeer({ clusterId: options.routerId, ...options, localAddress: this.addr });
  }

  async listen(port = 179): Promise<void> {
    await this.listener.listen(port, this.addr);
  }

  async close(): Promise<void> {
    this.reflector.stop("test finished");
    await this.listener.close();
  }
}

/** Peer settings for interop tests: quick retries, so sessions come up fast. */
export const BASE = {
  ...PEER_DEFAULTS,
  localAs: 64512,
  peerAs: 64512,
  role: "client" as const,
  connectRetryTime: 2,
  maxIdleHoldTime: 5,
};

/** A single-member etcd 3.4 on a loopback address, through ../shared/lab/start-etcd.sh. */
export class Etcd {
  readonly dir: string;
  constructor(
    readonly addr: string,
    readonly tls = false,
  ) {
    this.dir = workdir(`etcd-${addr}`);
  }

  get endpoint(): string {
    return `${this.tls ? "https" : "http"}://${this.addr}:2379`;
  }

  /** certificates made by the start script: ca.pem, client.pem, client-key.pem, ... */
  pki(file: string): string {
    return join(this.dir, "pki", file);
  }

  /** Starts (or restarts, keeping the data) and waits until it answers. */
  start(): void {
    execFileSync(sharedPath("lab/start-etcd.sh"), ["start", this.addr, this.dir], {
      env: { ...process.env, TLS: this.tls ? "1" : "0", KEEP_DATA: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  stop(): void {
    execFileSync(sharedPath("lab/start-etcd.sh"), ["stop", this.dir], { stdio: "ignore" });
  }

  /** Stops etcd, deletes its data and starts it again: a new, empty cluster at the same address. */
  recreate(): void {
    this.stop();
    rmSync(join(this.dir, "data"), { recursive: true, force: true });
    this.start();
  }

  /** etcdctl with the endpoint and certificates preset (ETCDCTL_API=3). */
  ctl(...args: string[]): string {
    return execFileSync(join(this.dir, "etcdctl"), args, { encoding: "utf8" });
  }

  /** Writes a resource the way calicoctl does: JSON of the whole v3 object under its key. */
  putResource(plural: string, obj: { kind: string; metadata: { name: string }; spec?: object }): void {
    // Go's TypeMeta puts kind before apiVersion
    const value = {
      kind: obj.kind,
      apiVersion: "projectcalico.org/v3",
      metadata: {
        uid: `uid-${obj.metadata.name}`,
        creationTimestamp: "2026-11-21T00:00:00Z",
        ...obj.metadata,
      },
      spec: obj.spec ?? {},
    };
    // the value goes through standard input: a large object does not fit in an argument
    execFileSync(
      join(this.dir, "etcdctl"),
      ["put", `/calico/resources/v3/projectcalico.org/${plural}/${obj.metadata.name}`],
      { input: JSON.stringify(value), encoding: "utf8" },
    );
  }

  deleteResource(plural: string, name: string): void {
    this.ctl("del", `/calico/resources/v3/projectcalico.org/${plural}/${name}`);
  }

  revision(): number {
    const out = JSON.parse(this.ctl("endpoint", "status", "-w", "json")) as {
      Status: { header: { revision: number } };
    }[];
    return out[0]?.Status.header.revision ?? 0;
  }
}
