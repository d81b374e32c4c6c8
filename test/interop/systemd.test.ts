// The standalone host: deploy/systemd/routereflector.service on a Debian host booted with systemd
// as its init (systemd-nspawn, on the host's network), routereflector installed from the packed
// tarball with npm install -g (test/fixtures/systemd-host), its settings in
// /etc/routereflector. Two BIRD 2 clients on loopback. The unit's hardening is checked on the
// running process (its dynamic user, its one capability, no new privileges, a seccomp filter),
// and systemctl reload and stop do what the unit says. Addresses 127.0.62.x.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFile } from "../helpers/cli.js";
import { Image } from "../helpers/image.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";
import { REPO_ROOT } from "../helpers/shared.js";

const IP = "127.0.62.1";
const CLUSTER_ID = "224.0.0.62";
const NODES = [
  { ip: "127.0.62.2", route: "198.18.62.0/26" },
  { ip: "127.0.62.3", route: "198.18.62.64/26" },
];

let host: Image;
let machine: ChildProcess | undefined;
const birds: Bird[] = [];
const dir = workdir("systemd");

/** A command in the booted host, as `machinectl shell` would run it (its namespaces, as root). */
function inHost(...argv: string[]): string {
  const nspawn = machine?.pid;
  if (!nspawn) throw new Error("the host is not running");
  const init = readFileSync(`/proc/${nspawn}/task/${nspawn}/children`, "utf8").trim().split(/\s+/)[0];
  const r = spawnSync("nsenter", ["-t", init as string, "-m", "-u", "-i", "-p", "-r", "-w", "--", ...argv], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (r.status !== 0)
    throw Object.assign(
      new Error(`in the host: ${argv.join(" ")}: exit ${r.status}: ${r.stderr}${r.stdout}`),
      {
        stdout: r.stdout,
      },
    );
  return r.stdout;
}

/** The PID (as the host sees it) of what listens on IP port 179, and its /proc status. */
function listener(): { pid: number; status: string } {
  const ss = execFileSync("ss", ["-Htlnp", "src", `${IP}:179`], { encoding: "utf8" });
  const pid = Number(/pid=(\d+)/.exec(ss)?.[1]);
  return { pid, status: pid ? readFileSync(`/proc/${pid}/status`, "utf8") : "" };
}

beforeAll(async () => {
  host = Image.build("localhost/routereflector-host:test", "test/fixtures/systemd-host/build.sh");
  // /etc/routereflector: the env file systemd reads as root, the datastore file the service reads
  chmodSync(dir, 0o755);
  clientsFile(
    dir,
    IP,
    NODES.map((n) => n.ip),
  );
  writeFileSync(
    join(dir, "routereflector.env"),
    `IP=${IP}\nCLUSTER_ID=${CLUSTER_ID}\nDATASTORE_FILE=/etc/routereflector/calico.yaml\nHTTP_LISTEN=${IP}:9179\n`,
    { mode: 0o600 },
  );
  for (const n of NODES)
    birds.push(
      await startBird(`systemd-${n.ip}`, {
        addr: n.ip,
        peer: { addr: IP, port: 179, asn: 64512 },
        routes: [n.route],
        gracefulRestart: true,
      }),
    );
  const log = openSync(join(dir, "console.log"), "a");
  machine = spawn(
    "systemd-nspawn",
    ["-q", "-b", "-D", host.root, "--volatile=overlay", "--register=no", "--keep-unit"].concat([
      "--machine=rr-systemd-test",
      `--bind-ro=${dir}:/etc/routereflector`,
    ]),
    { stdio: ["ignore", log, log] },
  );
  // booted: its init answers, with every unit started (degraded would be a failed unit)
  await waitFor(
    () => {
      try {
        return /^(running|degraded)$/m.test(inHost("systemctl", "is-system-running"));
      } catch (e) {
        return /^(running|degraded)$/m.test((e as { stdout?: string }).stdout ?? "");
      }
    },
    60_000,
    "the host booted",
  );
}, 600_000);

afterAll(async () => {
  // SIGTERM to nspawn: the host shuts down as systemctl poweroff would
  if (machine && machine.exitCode === null) {
    const exited = new Promise((r) => machine?.once("exit", r));
    machine.kill("SIGTERM");
    await exited;
  }
  await Promise.all(birds.map((b) => b.stop()));
  host?.unmount();
});

describe("the systemd unit on a reflector host", () => {
  it("starts at boot, reflects, and runs as a dynamic user with CAP_NET_BIND_SERVICE only, no new privileges, a seccomp filter", async () => {
    await waitFor(
      () =>
        birds.every((b) => b.protocol().info === "Established") &&
        birds.every((b, i) => b.routeFor(NODES[1 - i]!.route).includes(`BGP.cluster_list: ${CLUSTER_ID}`)),
      90_000,
      "both clients Established through the unit's reflector, each with the other's route",
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${readFileSync(join(dir, "console.log"), "utf8").slice(-3000)}`);
    });
    expect(inHost("systemctl", "is-active", "routereflector").trim()).toBe("active");
    const { pid, status } = listener();
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean)).toEqual([
      "node",
      "/usr/local/bin/routereflector",
      "run",
    ]);
    // DynamicUser: a uid from systemd's dynamic range (61184-65519), not root, not a fixed user
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    expect(uid).toBeGreaterThanOrEqual(61184);
    expect(uid).toBeLessThanOrEqual(65519);
    // CAP_NET_BIND_SERVICE (bit 10) and nothing else, in every set
    for (const set of ["CapPrm", "CapEff", "CapBnd", "CapAmb"])
      expect(new RegExp(`^${set}:\\s+0000000000000400$`, "m").test(status), set).toBe(true);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(status).toMatch(/^Seccomp:\s+2$/m);
  }, 120_000);

  it("systemctl reload is SIGHUP (the datastore read again); systemctl stop is a planned restart: exit 0, clients keep the routes", () => {
    const { pid } = listener();
    inHost("systemctl", "reload", "routereflector");
    expect(listener().pid).toBe(pid);
    const journal = () => inHost("journalctl", "-u", "routereflector", "-o", "cat", "--no-pager");
    expect(journal()).toMatch(/"event":"reloadRequested"/);
    inHost("systemctl", "stop", "routereflector");
    const shown = inHost("systemctl", "show", "-p", "ExecMainStatus", "-p", "Result", "routereflector");
    expect(shown).toMatch(/^ExecMainStatus=0$/m);
    expect(shown).toMatch(/^Result=success$/m);
    expect(journal()).toMatch(/"event":"shuttingDownRetained".*"signal":"SIGTERM"/);
    for (const [i, b] of birds.entries()) expect(b.routeFor(NODES[1 - i]!.route)).not.toBe("");
  }, 60_000);
  it("passes systemd-analyze: verify on the host, and the exposure score the README gives", () => {
    expect(inHost("systemd-analyze", "verify", "/etc/systemd/system/routereflector.service")).toBe("");
    const r = spawnSync(
      "systemd-analyze",
      ["security", "--offline=yes", join(REPO_ROOT, "deploy/systemd/routereflector.service")],
      { encoding: "utf8" },
    );
    const score = /Overall exposure level for routereflector\.service: (\d+\.\d+) (\w+)/.exec(r.stdout);
    const readme = /`systemd-analyze security` rates it (\d+\.\d+), (\w+)/.exec(
      readFileSync(join(REPO_ROOT, "README.md"), "utf8"),
    );
    expect(score?.slice(1)).toEqual(readme?.slice(1));
  });
});
