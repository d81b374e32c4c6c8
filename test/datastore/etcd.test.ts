// The etcd v3 source against a real etcd 3.4 on loopback (127.0.40.x), plain and with TLS client
// certificates. Resources are written with etcdctl the way calicoctl writes them.
import { readFileSync } from "node:fs";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdSource } from "../../src/datastore/etcd.js";
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
});
