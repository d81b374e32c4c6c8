// The assignment scenario: 5 reflector processes with ASSIGN_REFLECTORS=2 on a real etcd 3.4 and
// 5,000 simulated Calico nodes (clients.ts) peering as calico/node computes from the datastore.
// Measured: the time until every node has its two planned reflectors with every route; then one
// reflector killed (SIGKILL) and the time from its death until every node has two live ones
// again, the routes missing at any moment (the fewest any node held, against all), and what the
// writer wrote. No other route reflector does this, so there is nothing to run beside it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Etcd3 } from "etcd3";
import { currentAssignment, LEAVING } from "../../src/datastore/assignment.js";
import { ClientProcess } from "./client-process.js";
import type { Report } from "./clients.js";
import { clientAddress } from "./plan.js";
import { repoRoot } from "./report.js";
import { sharedDir } from "./shared.js";
import { usage } from "./targets.js";

const ETCD = "127.0.51.10";
const ZONES = ["zone-a", "zone-b", "zone-c", "zone-a", "zone-b"];
const LEASE = 5;
const GRACE = 10;
const SECOND_OCTET = 70;

export interface AssignmentRun {
  nodes: number;
  reflectors: number;
  perNode: number;
  leaseSeconds: number;
  graceSeconds: number;
  /** from the reflectors' start until every node had its two planned reflectors and every route */
  assignedMs: number;
  /** from the kill until every node had two live reflectors (its new plan) and every route */
  replacedMs: number;
  /** the fewest other nodes' routes any node held at any moment after it first held them all */
  fewestHeld: number;
  routesPerNode: number;
  /** nodes whose reflectors the kill changed */
  movedByKill: number;
  /** of them, those the killed reflector had (the others moved for the zones or the bounds) */
  victimHad: number;
  /** the writes by result (every reflector's metrics summed) until every node had its two */
  writesToAssign: Record<string, number>;
  /** and from the kill until every node had two live ones */
  writesToReplace: Record<string, number>;
  /** CPU time and peak memory of each reflector process, and of the simulated nodes */
  reflectorCpuMs: number[];
  reflectorPeakRssKiB: number[];
  simulatorPeakRssKiB: number;
}

async function until(what: string, ms: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function assignment(n = 5000): Promise<AssignmentRun> {
  const dir = mkdtempSync(join(tmpdir(), "rr-bench-assignment-"));
  const script = resolve(sharedDir(), "lab/start-etcd.sh");
  execFileSync(script, ["start", ETCD, dir], { stdio: "ignore" });
  const endpoint = `http://${ETCD}:2379`;
  const procs: ChildProcess[] = [];
  let nodes: ClientProcess | undefined;
  // writes the Calico objects, then reads the labels the writer puts on them
  const etcd = new Etcd3({ hosts: endpoint });
  try {
    const reflectors = ZONES.map((zone, i) => ({ name: `rr-${i}`, ip: `127.0.51.${i + 1}`, zone }));
    const clients = Array.from({ length: n }, (_, i) => ({
      name: `node-${i}`,
      ip: clientAddress(i, SECOND_OCTET),
    }));
    // the Calico objects, as calicoctl writes them
    const V3 = "/calico/resources/v3/projectcalico.org/";
    const put = (plural: string, name: string, spec: object, labels: Record<string, string> = {}) =>
      etcd.put(`${V3}${plural}/${name}`).value(
        JSON.stringify({
          kind: plural === "nodes" ? "Node" : "BGPConfiguration",
          apiVersion: "projectcalico.org/v3",
          metadata: { name, labels },
          spec,
        }),
      );
    await put("bgpconfigurations", "default", { nodeToNodeMeshEnabled: false, asNumber: 64512 });
    for (const r of reflectors)
      await put(
        "nodes",
        r.name,
        { bgp: { ipv4Address: `${r.ip}/32`, routeReflectorClusterID: r.ip } },
        { "topology.kubernetes.io/zone": r.zone },
      );
    for (let i = 0; i < clients.length; i += 200)
      await Promise.all(
        clients.slice(i, i + 200).map((c) => put("nodes", c.name, { bgp: { ipv4Address: `${c.ip}/32` } })),
      );

    const started = Date.now();
    const pids = new Map<string, number>();
    for (const r of reflectors) {
      const proc = spawn(process.execPath, [resolve(repoRoot(), "dist/cli.js")], {
        env: {
          PATH: process.env.PATH ?? "",
          DATASTORE_TYPE: "etcdv3",
          ETCD_ENDPOINTS: endpoint,
          NODENAME: r.name,
          IP: r.ip,
          ASSIGN_REFLECTORS: "2",
          ASSIGN_SLACK: "2",
          ASSIGN_LEASE_TTL: String(LEASE),
          ASSIGN_GRACE_PERIOD: String(GRACE),
          ASSIGN_WRITE_RATE: "500",
          HTTP_LISTEN: `${r.ip}:9179`,
          LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "ignore", "inherit"],
      });
      procs.push(proc);
      pids.set(r.name, proc.pid as number);
    }
    nodes = new ClientProcess({
      targets: [],
      etcd: [endpoint],
      addressBase: SECOND_OCTET,
      port: 179,
      first: 0,
      count: n,
      total: n,
      k: 1,
      holdTime: 90,
      asn: 64512,
      gracefulRestart: true,
      sampleEvery: 250,
      connectBurst: 100,
    });
    nodes.send({ type: "announce" });
    const names = clients.map((c) => c.name);
    const ipOf = new Map([...reflectors, ...clients].map((x) => [x.name, x.ip]));
    let last: Report | undefined;
    // every Node's labels, as the writer left them
    const labelsNow = async () => {
      const all = await etcd.getAll().prefix(`${V3}nodes/`).strings();
      return new Map(
        Object.values(all).map((v) => {
          const o = JSON.parse(v) as { metadata: { name: string; labels?: Record<string, string> } };
          return [o.metadata.name, o.metadata.labels ?? {}] as const;
        }),
      );
    };
    let given = new Map<string, string[]>();
    /** Settled on these live reflectors: every node given two of them (none leaving), its sessions those, every route. */
    const settled = (live: typeof reflectors) => async () => {
      const labels = await labelsNow();
      given = currentAssignment(
        [...labels].map(([name, l]) => ({ name, labels: l })),
        reflectors.map((r) => r.name),
      );
      const leaving = names.filter((c) => Object.values(labels.get(c) ?? {}).includes(LEAVING)).length;
      last = await (nodes as ClientProcess).report();
      const want = (c: string) => `${(given.get(c) ?? []).map((r) => ipOf.get(r)).sort()}`;
      const wrong = names.filter(
        (c) =>
          (given.get(c) ?? []).filter((r) => live.some((x) => x.name === r)).length !== 2 ||
          `${last?.peersOf[c]}` !== want(c),
      );
      const more = names.filter((c) => (last?.peersOf[c]?.length ?? 0) > 2).length;
      const fewer = names.filter((c) => (last?.peersOf[c]?.length ?? 0) < 2).length;
      process.stderr.write(
        `assignment: ${last.complete}/${n} complete, ${wrong.length} not on two live assigned reflectors, ${leaving} leaving one (${more} with more than two sessions, ${fewer} with fewer)\n`,
      );
      return last.complete === n && wrong.length === 0 && leaving === 0;
    };
    await until("every node with its two planned reflectors", 600_000, settled(reflectors));
    const assignedMs = Date.now() - started;
    const before = last as Report;
    const givenBefore = given;

    // the writer: the one whose metrics say so
    const metrics = async (r: (typeof reflectors)[number]) =>
      (await fetch(`http://${r.ip}:9179/metrics`)
        .then((x) => x.text())
        .catch(() => "")) as string;
    let writer = reflectors[0] as (typeof reflectors)[number];
    for (const r of reflectors)
      if (/^routereflector_assignment_writer 1$/m.test(await metrics(r))) writer = r;
    const victim = reflectors.find((r) => r !== writer) as (typeof reflectors)[number];
    // the writes by result, summed over these reflectors (the writer may change during a run)
    const writesOf = async (rs: typeof reflectors) => {
      const sum: Record<string, number> = {};
      for (const r of rs)
        for (const m of (await metrics(r)).matchAll(
          /^routereflector_assignment_writes_total\{result="(\w+)"\} (\S+)$/gm,
        ))
          sum[m[1] as string] = (sum[m[1] as string] ?? 0) + Number(m[2]);
      return sum;
    };
    const writesToAssign = await writesOf(reflectors);
    const liveBefore = await writesOf(reflectors.filter((r) => r !== victim));
    const killedAt = Date.now();
    process.kill(pids.get(victim.name) as number, "SIGKILL");
    const live = reflectors.filter((r) => r !== victim);
    await until("every node with two live reflectors", 600_000, settled(live));
    const replacedMs = Date.now() - killedAt;
    const after = last as Report;
    const liveAfter = await writesOf(live);
    const writesToReplace = Object.fromEntries(
      Object.entries(liveAfter).map(([k, v]) => [k, v - (liveBefore[k] ?? 0)]),
    );
    const use = live.map((r) => usage(pids.get(r.name) as number));
    return {
      nodes: n,
      reflectors: reflectors.length,
      perNode: 2,
      leaseSeconds: LEASE,
      graceSeconds: GRACE,
      assignedMs,
      replacedMs,
      fewestHeld: after.lowWater,
      routesPerNode: n - 1,
      movedByKill: names.filter((c) => `${after.peersOf[c]}` !== `${before.peersOf[c]}`).length,
      victimHad: names.filter((c) => givenBefore.get(c)?.includes(victim.name)).length,
      writesToAssign,
      writesToReplace,
      reflectorCpuMs: use.map((u) => u.cpuMs),
      reflectorPeakRssKiB: use.map((u) => u.peakRssKiB),
      simulatorPeakRssKiB: usage(nodes.proc.pid as number).peakRssKiB,
    };
  } finally {
    etcd.close();
    await nodes?.stop();
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    execFileSync(script, ["stop", dir], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
}
