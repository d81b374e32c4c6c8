// Reflectors that place themselves, on a real etcd 3.4 and on the Kubernetes API server stand-in
// (Leases, label patches, BGPPeer custom resources): four reflector processes with
// ASSIGN_REFLECTORS=2 hold leases and elect a writer, which labels the Calico Nodes and writes the
// BGPPeers; 40 simulated Calico nodes (bench/lib/clients.ts) compute their peerings from the
// datastore as calico/node does and open their sessions accordingly. One reflector killed: after
// its lease and the grace period its nodes have two live reflectors again, and no node held fewer
// than every route at any moment. One added: the nodes moved are the plan's. Assignment switched
// off: what it wrote is gone, and nothing else. Addresses: etcd 127.0.63.x (reflectors, etcd) and
// 127.64.0.x (nodes); Kubernetes 127.0.65.x and 127.66.0.x.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ClientProcess } from "../../bench/lib/client-process.js";
import type { Report } from "../../bench/lib/clients.js";
import { clientAddress } from "../../bench/lib/plan.js";
import { ASSIGNMENT_LABEL_PREFIX, currentAssignment, LEAVING } from "../../src/datastore/assignment.js";
import {
  type WorldNode,
  worldKubernetesObjects,
  worldObjects,
  ZONE_LABEL,
} from "../helpers/assignment-world.js";
import { render } from "../helpers/chart.js";
import { Daemon } from "../helpers/cli.js";
import { KubeApiServer, rbacRules } from "../helpers/kube-apiserver.js";
import { Etcd, waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const N = 40;
const K = 2;
const GRACE = 4;
const LEASE = 3;
const zones = ["zone-a", "zone-b", "zone-c", "zone-a", "zone-b"];
type World = ReturnType<typeof world>;
/** The reflectors at 127.0.<third>.1 and up; the nodes at 127.<second>.0.1 and up. */
const world = (third: number, second: number) => {
  const reflectors = zones.map((zone, i) => ({ name: `rr-${i}`, ip: `127.0.${third}.${i + 1}`, zone }));
  const clients = Array.from({ length: N }, (_, i) => ({ name: `node-${i}`, ip: clientAddress(i, second) }));
  return {
    reflectors,
    clients,
    second,
    ipOf: new Map([...reflectors, ...clients].map((n) => [n.name, n.ip])),
  };
};

/** Where the reflectors and nodes read and write: what the test needs of each datastore. */
interface Datastore {
  /** the reflectors' environment for it */
  env: Record<string, string>;
  /** the simulated nodes' datastore (Plan.etcd or Plan.kubeconfig) */
  plan: { etcd: string[] } | { kubeconfig: string };
  add(nodes: readonly WorldNode[]): void;
  /** what of ours is left: Node labels and BGPPeers, as "object: key" */
  ours(): Promise<string[]>;
  /** a Node's labels */
  labels(node: string): Promise<Record<string, string>>;
  /** every Node's labels */
  allLabels(): Promise<Map<string, Record<string, string>>>;
}

async function etcdDatastore(addr: string): Promise<Datastore> {
  const etcd = new Etcd(addr);
  cleanup.push(() => etcd.stop());
  etcd.start();
  const V3 = "/calico/resources/v3/projectcalico.org/";
  const value = (key: string) =>
    JSON.parse(etcd.ctl("get", "--print-value-only", key) || "{}") as {
      metadata?: { labels?: Record<string, string> };
    };
  await Promise.resolve();
  return {
    env: { DATASTORE_TYPE: "etcdv3", ETCD_ENDPOINTS: etcd.endpoint },
    plan: { etcd: [etcd.endpoint] },
    add: (nodes) => {
      for (const { key, object } of worldObjects(nodes, new Map(), [])) {
        const [plural] = key.split("/") as [string];
        etcd.putResource(plural, object as { kind: string; metadata: { name: string } });
      }
    },
    ours: async () =>
      etcd
        .ctl("get", "--prefix", V3)
        .split("\n")
        .filter((l) => l.includes(ASSIGNMENT_LABEL_PREFIX) || /bgppeers\/routereflector/.test(l)),
    labels: async (node) => value(`${V3}nodes/${node}`).metadata?.labels ?? {},
    allLabels: async () =>
      new Map(
        etcd
          .ctl("get", "--prefix", "--print-value-only", `${V3}nodes/`)
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as { metadata: { name: string; labels?: Record<string, string> } })
          .map((n) => [n.metadata.name, n.metadata.labels ?? {}]),
      ),
  };
}

async function kubernetesDatastore(host: string): Promise<Datastore> {
  const api = new KubeApiServer(host);
  // authorised as the chart's RBAC with the assignment on (the rules it has while cleaning up too)
  api.rbac = rbacRules(render({ "assignment.reflectors": 2 }));
  await api.listen();
  cleanup.push(() => api.close());
  const kubeconfig = join(workdir(`assignment-${host}`), "kubeconfig");
  writeFileSync(kubeconfig, api.kubeconfig());
  const read = async (path: string) => {
    const res = await api.get(path);
    let body = "";
    for await (const chunk of res) body += chunk;
    return JSON.parse(body) as {
      items?: { metadata: { name: string; labels?: Record<string, string> } }[];
      metadata?: { labels?: Record<string, string> };
    };
  };
  return {
    env: { DATASTORE_TYPE: "kubernetes", KUBECONFIG: kubeconfig, NAMESPACE: "kube-system" },
    plan: { kubeconfig },
    add: (nodes) => {
      for (const { plural, object } of worldKubernetesObjects(nodes))
        api.put(plural, object as { metadata: { name: string } });
    },
    ours: async () => [
      ...((await read("/api/v1/nodes")).items ?? []).flatMap((n) =>
        Object.keys(n.metadata.labels ?? {})
          .filter((k) => k.startsWith(ASSIGNMENT_LABEL_PREFIX))
          .map((k) => `nodes/${n.metadata.name}: ${k}`),
      ),
      ...((await read("/apis/crd.projectcalico.org/v1/bgppeers")).items ?? [])
        .filter((p) => p.metadata.name.startsWith("routereflector"))
        .map((p) => `bgppeers/${p.metadata.name}`),
    ],
    labels: async (node) => (await read(`/api/v1/nodes/${node}`)).metadata?.labels ?? {},
    allLabels: async () =>
      new Map(
        ((await read("/api/v1/nodes")).items ?? []).map((n) => [n.metadata.name, n.metadata.labels ?? {}]),
      ),
  };
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

const expected = (N - 1) * K;

describe.each([
  ["etcd v3", () => etcdDatastore("127.0.63.10"), world(63, 64)],
  ["Kubernetes", () => kubernetesDatastore("127.0.65.10"), world(65, 66)],
] as [string, () => Promise<Datastore>, World][])("reflector assignment on %s", (_, open, w) => {
  const { reflectors, clients, ipOf } = w;
  it("every node peers with its two assigned reflectors; a reflector killed or added keeps every route at every node", async (ctx) => {
    const measured = reliability(ctx, {
      scenario: `assigned reflectors on ${_}: one killed, one added`,
      load: `${N} simulated Calico nodes peering as calico/node computes from ${_}, ${K} routes each; four reflectors with ASSIGN_REFLECTORS=2`,
      fault: `a reflector killed (SIGKILL; lease ${LEASE} s, grace ${GRACE} s), then a fifth one started`,
      checked:
        "each node's sessions are its planned reflectors; no node held fewer than every route at any moment",
    });
    const store = await open();
    store.add([...reflectors.slice(0, 4), ...clients]);

    const daemons = new Map<string, Daemon>();
    const startReflector = (r: (typeof reflectors)[number], assign = true) => {
      const d = new Daemon({
        ...store.env,
        NODENAME: r.name,
        IP: r.ip,
        ...(assign ? { ASSIGN_REFLECTORS: "2" } : {}),
        ASSIGN_SLACK: "1",
        ASSIGN_GRACE_PERIOD: String(GRACE),
        ASSIGN_LEASE_TTL: String(LEASE),
        ASSIGN_WRITE_RATE: "500",
        LOG_LEVEL: "info",
        HTTP_LISTEN: `${r.ip}:9179`,
      });
      daemons.set(r.name, d);
      cleanup.push(() => d.stop("SIGKILL"));
      return d;
    };
    // One reflector first, with every node; then three more at once. Nodes move to reflectors
    // still in their selection deferral, whose sessions are up before they send any route: an
    // old reflector may go only once the new ones have sent the whole table.
    startReflector(reflectors[0] as (typeof reflectors)[number]);

    const nodes = new ClientProcess({
      targets: [],
      ...store.plan,
      addressBase: w.second,
      port: 179,
      first: 0,
      count: N,
      total: N,
      k: K,
      holdTime: 9,
      asn: 64512,
      gracefulRestart: true,
      sampleEvery: 5,
      connectBurst: 50,
    });
    cleanup.push(() => nodes.stop());
    nodes.send({ type: "announce" });

    /**
     * The assignment settled on these live reflectors: every node's labels give it two of them
     * (the one, while there is one) and none leaving, within the load bound, and its sessions up
     * are exactly those, each with every route. Returns the last report and each node's reflectors.
     */
    const settled = async (live: typeof reflectors) => {
      const names = new Set(live.map((r) => r.name));
      const capacity = Math.ceil((N * Math.min(2, live.length)) / live.length) + 1;
      let last: Report | undefined;
      let given = new Map<string, string[]>();
      const want = (node: string) => (given.get(node) ?? []).map((r) => ipOf.get(r)).sort();
      const why = () => {
        const loads = new Map(live.map((r) => [r.name, 0]));
        for (const rs of given.values()) for (const r of rs) loads.set(r, (loads.get(r) ?? 0) + 1);
        const off = clients.find((c) => {
          const rs = given.get(c.name) ?? [];
          return (
            rs.length !== Math.min(2, live.length) ||
            rs.some((r) => !names.has(r)) ||
            `${last?.peersOf[c.name]}` !== `${want(c.name)}`
          );
        });
        if (off)
          return `${off.name} is given ${given.get(off.name)} and peers with ${last?.peersOf[off.name]}`;
        const over = [...loads].find(([, l]) => l > capacity);
        if (over) return `${over[0]} has ${over[1]} nodes, above ${capacity}`;
        if (last?.complete !== N) return `complete ${last?.complete}/${N}`;
        return undefined;
      };
      await waitFor(
        async () => {
          const labels = await store.allLabels();
          if (clients.some((c) => Object.values(labels.get(c.name) ?? {}).includes(LEAVING))) return false;
          given = currentAssignment(
            [...labels].map(([name, l]) => ({ name, labels: l })),
            reflectors.map((r) => r.name),
          );
          last = await nodes.report();
          return why() === undefined;
        },
        40_000,
        () => `every node with its two assigned reflectors up and every route: ${why() ?? "a node leaving"}`,
      ).catch((e: Error) => {
        const said = [...daemons]
          .flatMap(([name, d]) =>
            d.lines
              .filter((l) => String(l.msg).includes("assignment"))
              .map((l) => `${name}: ${JSON.stringify(l)}`),
          )
          .slice(-30);
        throw new Error(`${e.message}\n${said.join("\n")}`);
      });
      return { report: last as Report, given };
    };

    await settled(reflectors.slice(0, 1));
    for (const r of reflectors.slice(1, 4)) startReflector(r);
    const first = (await settled(reflectors.slice(0, 4))).report;
    expect(first.lowWater, first.lowWaterAt).toBe(expected);
    expect(first.sampleErrors).toEqual([]);
    expect(first.unexpected).toBe(0);
    // one writer among them
    const writers = [...daemons.values()].filter(
      (d) => d.logged("assignment writer changed", { elected: true }).length,
    );
    expect(writers.length).toBe(1);

    // A reflector killed: no NOTIFICATION, its lease runs out, then the grace period.
    const victim = writers[0] === daemons.get("rr-1") ? "rr-2" : "rr-1";
    const killedAt = Date.now();
    await daemons.get(victim)?.stop("SIGKILL");
    const live = reflectors.slice(0, 4).filter((r) => r.name !== victim);
    const { report: afterKill, given: beforeAdd } = await settled(live);
    const replacedMs = Date.now() - killedAt;
    // never sooner than lease and grace: a restart within them moves nothing
    expect(replacedMs).toBeGreaterThan((LEASE + GRACE) * 1000 - 1000);
    expect(afterKill.lowWater, afterKill.lowWaterAt).toBe(expected);

    // A reflector added: only the nodes it takes move.
    store.add([reflectors[4] as (typeof reflectors)[number]]);
    startReflector(reflectors[4] as (typeof reflectors)[number]);
    const { report: afterAdd, given: added } = await settled([
      ...live,
      reflectors[4] as (typeof reflectors)[number],
    ]);
    const moved = clients.filter((c) => `${afterAdd.peersOf[c.name]}` !== `${afterKill.peersOf[c.name]}`);
    // Only the nodes it takes move, each taking it in place of one it had, and it takes at least
    // its even share less the slack; and nodes the loss left in one zone (zone-a twice, zone-c's
    // one reflector full) move to zone-c as it sheds nodes to rr-4: one exchange each.
    const zoneOf = (r: string) => reflectors.find((x) => x.name === r)?.zone;
    const zones = (rs: readonly string[] = []) => new Set(rs.map(zoneOf)).size;
    const took = moved.filter((c) => added.get(c.name)?.includes("rr-4"));
    for (const c of moved) {
      const was = beforeAdd.get(c.name) ?? [];
      const gained = added.get(c.name)?.filter((r) => !was.includes(r));
      if (took.includes(c)) expect(gained, c.name).toEqual(["rr-4"]);
      else {
        expect(zones(was), c.name).toBe(1);
        expect(zones(added.get(c.name)), c.name).toBe(2);
        expect(gained, c.name).toHaveLength(1);
      }
    }
    const taken = [...added.values()].filter((rs) => rs.includes("rr-4")).length;
    expect(took.length).toBe(taken);
    expect(taken).toBeGreaterThanOrEqual(Math.floor((N * 2) / 4) - 1);
    // at most the new one's share (N x R / M nodes) and the slack
    expect(moved.length).toBeLessThanOrEqual(Math.ceil((N * 2) / 4) + 1);
    expect(afterAdd.lowWater, afterAdd.lowWaterAt).toBe(expected);
    // the writer's metrics say the same
    const writer = reflectors.find((r) => daemons.get(r.name) === writers[0]) as (typeof reflectors)[number];
    const metrics = await (await fetch(`http://${writer.ip}:9179/metrics`)).text();
    const metric = (line: string) => Number(new RegExp(`^${line} (\\S+)$`, "m").exec(metrics)?.[1]);
    expect(metric("routereflector_assignment_writer")).toBe(1);
    expect(metric("routereflector_assignment_members")).toBe(4);
    expect(metric("routereflector_assignment_nodes")).toBe(N);
    expect(metric("routereflector_assignment_held_back")).toBe(0);
    expect(metric('routereflector_assignment_writes_total\\{result="done"\\}')).toBeGreaterThan(N);
    expect(metric('routereflector_assignment_reflector_nodes\\{reflector="rr-4"\\}')).toBeGreaterThan(0);
    measured(
      `the killed reflector's nodes had two live ones again ${(replacedMs / 1000).toFixed(1)} s after the kill (lease ${LEASE} s + grace ${GRACE} s); adding a fifth moved ${moved.length} of ${N} nodes: the ${taken} it took and ${moved.length - taken} the loss had left in one zone; the fewest routes any node held at any moment: ${afterAdd.lowWater} of ${expected}`,
    );

    // Switched off: every instance restarts without ASSIGN_REFLECTORS; after the grace period
    // with no member left, one of them removes what the assignment wrote.
    for (const [name, d] of daemons) {
      await d.stop();
      if (name !== victim)
        startReflector(reflectors.find((r) => r.name === name) as (typeof reflectors)[number], false);
    }
    await waitFor(
      async () => (await store.ours()).length === 0,
      30_000,
      "the labels and BGPPeers of the assignment removed",
    );
    // the labels not ours stay
    expect((await store.labels("node-0")).team).toBe("x");
    expect((await store.labels("rr-0"))[ZONE_LABEL]).toBe("zone-a");
  }, 180_000);
});
