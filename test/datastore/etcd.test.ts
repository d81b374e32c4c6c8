// The etcd v3 source against a real etcd 3.4 on loopback (127.0.40.x), plain and with TLS client
// certificates. Resources are written with etcdctl the way calicoctl writes them.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdSource } from "../../src/datastore/etcd.js";
import { computePeerings } from "../../src/datastore/peerings.js";
import { Store } from "../../src/datastore/store.js";
import { Etcd, waitFor } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const node = (name: string, ip: string, labels: Record<string, string> = {}) => ({
  kind: "Node",
  metadata: { name, labels },
  spec: { bgp: { ipv4Address: `${ip}/24` } },
});

function logSink() {
  const lines: string[] = [];
  return { lines, log: pino({ level: "debug" }, { write: (l: string) => lines.push(l) }) };
}

const started: { etcd: Etcd[]; sources: EtcdSource[] } = { etcd: [], sources: [] };
afterAll(async () => {
  for (const s of started.sources) await s.stop();
  for (const e of started.etcd) e.stop();
});

function startEtcd(addr: string, tls = false): Etcd {
  const etcd = new Etcd(addr, tls);
  started.etcd.push(etcd);
  etcd.start();
  return etcd;
}

/** A source following `etcd` into a new store, started. */
function follow(etcd: Etcd, log = pino({ level: "silent" })): { store: Store; src: EtcdSource } {
  const store = new Store();
  const src = new EtcdSource([etcd.endpoint], {}, store, log);
  started.sources.push(src);
  src.start();
  return { store, src };
}

describe("etcd v3 source", () => {
  it("lists, then follows puts and deletes; invalid objects are logged with their key and skipped", async () => {
    const etcd = new Etcd("127.0.40.1");
    started.etcd.push(etcd);
    etcd.start();
    etcd.putResource("nodes", node("n1", "100.64.0.1"));
    etcd.putResource("bgppeers", {
      kind: "BGPPeer",
      metadata: { name: "rr" },
      spec: { peerIP: "100.64.0.50", asNumber: 64512 },
    });
    etcd.putResource("bgpconfigurations", {
      kind: "BGPConfiguration",
      metadata: { name: "default" },
      spec: { asNumber: 64600 },
    });
    etcd.ctl(
      "put",
      "/calico/bgp/v1/rr_v4/100.64.0.50",
      JSON.stringify({ ip: "100.64.0.50", cluster_id: "224.0.0.1" }),
    );
    etcd.ctl("put", "/calico/resources/v3/projectcalico.org/nodes/broken", "{not json");
    // IPAM, workload endpoints and the rest are not ours to read
    etcd.ctl("put", "/calico/resources/v3/projectcalico.org/ippools/default-ipv4", "{}");

    const store = new Store();
    const { lines, log } = logSink();
    const src = new EtcdSource([etcd.endpoint], {}, store, log);
    started.sources.push(src);
    src.start();
    await waitFor(() => store.synced, 10_000, "initial list");
    const snap = store.snapshot();
    expect([...snap.nodes.keys()]).toEqual(["n1"]);
    expect(snap.peers.get("rr")?.peerIP).toEqual({ address: "100.64.0.50" });
    expect(snap.configs.get("default")?.asNumber).toBe(64600);
    expect(snap.reflectors.get("100.64.0.50")?.clusterId).toBe("224.0.0.1");
    expect(
      lines.some(
        (l) =>
          l.includes("invalid object skipped") &&
          l.includes("/calico/resources/v3/projectcalico.org/nodes/broken"),
      ),
    ).toBe(true);

    etcd.putResource("nodes", node("n2", "100.64.0.2", { rack: "a" }));
    await waitFor(() => store.snapshot().nodes.has("n2"), 5000, "put n2");
    expect(store.snapshot().nodes.get("n2")?.labels).toEqual({ rack: "a" });

    // an update that is invalid keeps the last good version
    etcd.ctl(
      "put",
      "/calico/resources/v3/projectcalico.org/nodes/n2",
      JSON.stringify({
        ...node("n2", "100.64.0.2"),
        apiVersion: "projectcalico.org/v3",
        spec: { bgp: { ipv4Address: "x" } },
      }),
    );
    await waitFor(
      () => lines.some((l) => l.includes("nodes/n2") && l.includes("invalid object skipped")),
      5000,
      "bad n2",
    );
    expect(store.snapshot().nodes.get("n2")?.ipv4).toBe("100.64.0.2");

    etcd.deleteResource("nodes", "n1");
    etcd.ctl("del", "/calico/bgp/v1/rr_v4/100.64.0.50");
    await waitFor(
      () => !store.snapshot().nodes.has("n1") && store.snapshot().reflectors.size === 0,
      5000,
      "deletes",
    );
    expect([...store.snapshot().nodes.keys()]).toEqual(["n2"]);
  });

  it("a watch from a compacted revision is canceled: the source lists again and applies the difference", async (ctx) => {
    reliability(ctx, {
      scenario: "etcd compaction during a watch",
      load: "a real etcd 3.4 with Calico resources",
      fault: "the revision being watched is compacted away",
      checked: "the source lists again and applies exactly the difference",
    });
    const etcd = new Etcd("127.0.40.2");
    started.etcd.push(etcd);
    etcd.start();
    etcd.putResource("nodes", node("a", "100.64.1.1"));
    etcd.putResource("nodes", node("b", "100.64.1.2"));

    // Between the list and the watch, the data changes and etcd compacts past the list's revision.
    class Compacting extends EtcdSource {
      compacted = false;
      protected override async watch(revision: number): Promise<void> {
        if (!this.compacted) {
          this.compacted = true;
          etcd.deleteResource("nodes", "a");
          etcd.putResource("nodes", node("c", "100.64.1.3"));
          etcd.ctl("compact", String(etcd.revision()));
        }
        return super.watch(revision);
      }
    }
    const store = new Store();
    const { lines, log } = logSink();
    const src = new Compacting([etcd.endpoint], {}, store, log);
    started.sources.push(src);
    src.start();
    await waitFor(() => store.snapshot().nodes.has("c"), 10_000, "relist after compaction");
    expect([...store.snapshot().nodes.keys()].sort()).toEqual(["b", "c"]);
    expect(lines.some((l) => l.includes("watch canceled by etcd"))).toBe(true);
    // and it watches again from the new list
    etcd.putResource("nodes", node("d", "100.64.1.4"));
    await waitFor(() => store.snapshot().nodes.has("d"), 5000, "watch after relist");
  });

  it("canceling a watch etcd has just canceled (compaction) ends it, and nothing is thrown", async () => {
    // etcd answers a cancel for a watch it canceled itself a moment before: a second response for
    // an ID the client no longer holds. etcd3 1.1.2 threw on it inside the gRPC stream's handler,
    // an unhandled rejection that ends the process (seen in the compaction test above, when the
    // source retired its other watches while etcd was canceling them too).
    const etcd = startEtcd("127.0.40.10");
    etcd.ctl("put", "/x", "1");
    etcd.ctl("put", "/x", "2");
    etcd.ctl("compact", String(etcd.revision()));
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      // another watch keeps the stream open
      await client.watch().prefix("/live/").create();
      const w = client.watch().key("/x").startRevision("1").watcher();
      await new Promise((resolve) => w.once("error", resolve));
      const ended = await Promise.race([w.cancel().then(() => true), delay(5000, false)]);
      expect(ended).toBe(true);
    } finally {
      client.close();
    }
  });

  it("TLS with client certificates; without them etcd refuses and the source keeps retrying", async () => {
    const etcd = new Etcd("127.0.40.3", true);
    started.etcd.push(etcd);
    etcd.start();
    etcd.putResource("nodes", node("t1", "100.64.2.1"));
    const tls = {
      ca: readFileSync(etcd.pki("ca.pem")),
      cert: readFileSync(etcd.pki("client.pem")),
      key: readFileSync(etcd.pki("client-key.pem")),
    };
    const store = new Store();
    const src = new EtcdSource([etcd.endpoint], tls, store, pino({ level: "silent" }));
    started.sources.push(src);
    src.start();
    await waitFor(() => store.snapshot().nodes.has("t1"), 10_000, "list over TLS");

    const bare = new Store();
    const { lines, log } = logSink();
    const refused = new EtcdSource([etcd.endpoint], { ca: tls.ca }, bare, log);
    started.sources.push(refused);
    refused.start();
    await waitFor(() => lines.some((l) => l.includes("etcd unreachable")), 15_000, "refusal logged");
    expect(bare.synced).toBe(false);
  });

  it("fails over to the next endpoint", async () => {
    const etcd = new Etcd("127.0.40.4");
    started.etcd.push(etcd);
    etcd.start();
    etcd.putResource("nodes", node("f1", "100.64.3.1"));
    const store = new Store();
    // nothing listens on 127.0.40.5
    const src = new EtcdSource(
      ["http://127.0.40.5:2379", etcd.endpoint],
      {},
      store,
      pino({ level: "silent" }),
    );
    started.sources.push(src);
    src.start();
    await waitFor(() => store.snapshot().nodes.has("f1"), 20_000, "list through the second endpoint");
  });

  // Issue 15, finding 2: objects of pathological size, in the list and through the watch.
  it("a selector of pathological size is skipped with its key, in the list and in the watch; the long valid one is evaluated", async (ctx) => {
    reliability(ctx, {
      scenario: "pathological selectors from etcd",
      load: "a real etcd 3.4; BGPPeers with 20,000-term and 20,000-deep nodeSelectors",
      fault: "the objects are listed at start and put while watching",
      checked:
        "each deep one is skipped with its key and reason, the long one selects its node, the source keeps following",
    });
    const etcd = startEtcd("127.0.40.6");
    const long = Array.from({ length: 20_000 }, (_, i) => `has(k${i})`).join(" || ");
    const deep = `${"(".repeat(20_000)}has(a)${")".repeat(20_000)}`;
    const peer = (name: string, ip: string, nodeSelector: string) => ({
      kind: "BGPPeer",
      metadata: { name },
      spec: { peerIP: ip, asNumber: 65001, nodeSelector },
    });
    etcd.putResource("nodes", node("n1", "100.64.6.1", { k19999: "x" }));
    etcd.putResource("bgppeers", peer("deep-listed", "203.0.113.1", deep));
    etcd.putResource("bgppeers", peer("long-listed", "203.0.113.2", long));
    const { lines, log } = logSink();
    const { store } = follow(etcd, log);
    // every change computes node n1's peerings, as the daemon does
    const computed: string[][] = [];
    store.on("change", () => {
      if (store.synced)
        computed.push(computePeerings(store.snapshot(), { ip: "100.64.6.1" }).peers.map((p) => p.address));
    });
    await waitFor(() => store.synced, 10_000, "initial list");
    const skipped = (name: string) =>
      lines.some(
        (l) =>
          l.includes("invalid object skipped") &&
          l.includes(`bgppeers/${name}`) &&
          l.includes("nested more than 100 deep"),
      );
    expect(skipped("deep-listed")).toBe(true);
    etcd.putResource("bgppeers", peer("deep-watched", "203.0.113.3", deep));
    etcd.putResource("bgppeers", peer("long-watched", "203.0.113.4", long));
    await waitFor(
      () => store.snapshot().peers.has("long-watched"),
      5000,
      "the long selector through the watch",
    );
    expect(skipped("deep-watched")).toBe(true);
    expect(computed.at(-1)).toEqual(["203.0.113.2", "203.0.113.4"]);
    expect([...store.snapshot().peers.keys()].sort()).toEqual(["long-listed", "long-watched"]);
  });

  // Issue 15, finding 3: a watch that resumes on an etcd recreated empty must not trust its revision.
  it("etcd recreated empty (its revision went backwards): the source lists again, drops what is gone and follows the new cluster", async (ctx) => {
    reliability(ctx, {
      scenario: "etcd recreated empty",
      load: "a real etcd 3.4 with Calico resources, watched",
      fault: "etcd is stopped, its data deleted and a new cluster started at the same address",
      checked:
        "the revision going backwards is detected: deleted objects go, new ones come, the watch follows",
    });
    const etcd = startEtcd("127.0.40.7");
    for (let i = 1; i <= 30; i++) etcd.putResource("nodes", node(`old${i}`, `100.64.7.${i}`));
    const { lines, log } = logSink();
    const { store, src } = follow(etcd, log);
    await waitFor(() => store.snapshot().nodes.size === 30, 10_000, "initial list");
    const before = src.revision;
    // down for a while first: the client's reconnection backs off meanwhile, and must still come
    // back soon once etcd answers (etcd3's default backoff grows to 30 s)
    etcd.stop();
    await new Promise((r) => setTimeout(r, 10_000));
    etcd.recreate();
    etcd.putResource("nodes", node("new1", "100.64.7.101"));
    expect(etcd.revision()).toBeLessThan(before);
    await waitFor(
      () => store.snapshot().nodes.has("new1"),
      7_000,
      "the new cluster's node, soon after etcd is back",
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${lines.slice(-12).join("")}`);
    });
    expect([...store.snapshot().nodes.keys()]).toEqual(["new1"]);
    expect(lines.some((l) => l.includes("etcd revision went backwards"))).toBe(true);
    // the watch follows the new cluster
    etcd.putResource("nodes", node("new2", "100.64.7.102"));
    await waitFor(() => store.snapshot().nodes.has("new2"), 5000, "a put after the relist");
  }, 60_000);

  // etcd replaced between the list and the watch: the watch's first response, which etcd3's
  // create() waits for before our handlers are on, came from the new cluster and was trusted.
  it("etcd replaced while the watch is being created: the source lists again", async () => {
    const etcd = startEtcd("127.0.40.9");
    for (let i = 1; i <= 20; i++) etcd.putResource("nodes", node(`old${i}`, `100.64.9.${i}`));
    class Replacing extends EtcdSource {
      swapped = false;
      protected override async watch(revision: number): Promise<void> {
        if (!this.swapped) {
          this.swapped = true;
          etcd.recreate();
          etcd.putResource("nodes", node("new1", "100.64.9.101"));
        }
        return super.watch(revision);
      }
    }
    const store = new Store();
    const src = new Replacing([etcd.endpoint], {}, store, pino({ level: "silent" }));
    started.sources.push(src);
    src.start();
    await waitFor(() => store.snapshot().nodes.has("new1"), 15_000, "the new cluster's node");
    expect([...store.snapshot().nodes.keys()]).toEqual(["new1"]);
  }, 60_000);

  // Issue 15, finding 4: each relist replaced the client and leaked its gRPC connection.
  it("relisting 100 times leaks no connection", async (ctx) => {
    reliability(ctx, {
      scenario: "etcd relists (SIGHUP, cancelled watches, retries)",
      load: "a real etcd 3.4, one source",
      fault: "100 relists in a row",
      checked: "the process's established connections to etcd do not grow",
    });
    const etcd = startEtcd("127.0.40.8");
    etcd.putResource("nodes", node("r1", "100.64.8.1"));
    const { store, src } = follow(etcd);
    await waitFor(() => store.synced, 10_000, "initial list");
    // this process's TCP connections to that etcd: its sockets (/proc/self/fd) that /proc/net/tcp
    // lists with etcd's address as the remote end (other tests' files and sockets do not count)
    const etcdRemote = `${"127.0.40.8"
      .split(".")
      .reverse()
      .map((o) => Number(o).toString(16).padStart(2, "0").toUpperCase())
      .join("")}:${(2379).toString(16).toUpperCase().padStart(4, "0")}`;
    const connections = () => {
      const mine = new Set<string>();
      for (const fd of readdirSync("/proc/self/fd")) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
          if (m) mine.add(m[1]!);
        } catch {
          // closed meanwhile
        }
      }
      return readFileSync("/proc/net/tcp", "utf8")
        .split("\n")
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[2] === etcdRemote && f[3] === "01" && mine.has(f[9] ?? "")).length;
    };
    for (let i = 0; i < 5; i++) await src.reload();
    const start = connections();
    expect(start).toBeGreaterThan(0);
    for (let i = 0; i < 100; i++) await src.reload();
    // closed channels release their sockets asynchronously
    await waitFor(
      () => connections() <= start,
      20_000,
      `connections to etcd back to ${start} (now ${connections()})`,
    );
    etcd.putResource("nodes", node("r2", "100.64.8.2"));
    await waitFor(() => store.snapshot().nodes.has("r2"), 5000, "the watch after the relists");
  });
});
