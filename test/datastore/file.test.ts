import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EMBEDDED_DEFAULT } from "../../src/daemon/index.js";
import { FileError, FileSource, parseFile } from "../../src/datastore/file.js";
import { computePeerings } from "../../src/datastore/peerings.js";
import { Store } from "../../src/datastore/store.js";
import { waitFor } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";
import { workdir } from "../helpers/workdir.js";

const YAML = `
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {asNumber: 64512, nodeToNodeMeshEnabled: false}
---
apiVersion: v1
kind: List
items:
  - apiVersion: projectcalico.org/v3
    kind: Node
    metadata: {name: n1, labels: {rack: a}}
    spec: {bgp: {ipv4Address: 100.64.0.1/24}}
  - apiVersion: projectcalico.org/v3
    kind: Node
    metadata: {name: n2}
    spec: {bgp: {ipv4Address: not-an-address}}
---
# a Kubernetes Node exported with kubectl
apiVersion: v1
kind: Node
metadata:
  name: k1
  annotations: {projectcalico.org/IPv4Address: 100.64.0.3/24}
---
apiVersion: v1
kind: Secret
metadata: {name: bgp-secrets, namespace: kube-system}
data: {edge: ${Buffer.from("pw-one").toString("base64")}}
stringData: {mesh: pw-two}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: edge}
spec:
  peerIP: 203.0.113.1
  asNumber: 65001
  nodeSelector: "!has(rack)"
`;

describe("parseFile", () => {
  it("reads every document, lists, Kubernetes Nodes and Secrets; names an invalid object", () => {
    const p = parseFile("cfg.yaml", YAML);
    expect(p.resources.map((r) => `${r.kind}/${r.name}`)).toEqual([
      "BGPConfiguration/default",
      "Node/n1",
      "Node/k1",
      "BGPPeer/edge",
    ]);
    expect(p.secrets.get("bgp-secrets")).toEqual({ edge: "pw-one", mesh: "pw-two" });
    expect(p.invalid).toEqual([
      {
        key: "cfg.yaml: document 2 item 2",
        reason: 'spec.bgp.ipv4Address: not an IPv4 address: "not-an-address"',
      },
    ]);
    expect(p.keep).toEqual(new Set(["Node/n2"]));
  });

  it("a YAML error names the document", () => {
    expect(() => parseFile("cfg.yaml", "kind: Node\n---\nkind: [unclosed\n")).toThrow(FileError);
    expect(() => parseFile("cfg.yaml", "kind: Node\n---\nkind: [unclosed\n")).toThrow(
      /^cfg\.yaml: invalid YAML in document 2: /,
    );
  });

  it("an unquoted !has(...) selector is a YAML tag: the document is refused, not made global", () => {
    const p = parseFile(
      "cfg.yaml",
      "apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec:\n  nodeSelector: !has(x)\n  peerIP: 203.0.113.1\n  asNumber: 1\n",
    );
    expect(p.resources).toEqual([]);
    expect(p.invalid).toEqual([
      {
        key: "cfg.yaml: document 1",
        reason: 'unknown YAML tag at line 5 column 17; quote selectors that start with "!"',
      },
    ]);
    expect(p.keep).toEqual(new Set(["BGPPeer/p"]));
  });

  // Issue 15, finding 2: pathological objects are skipped one by one, each named with its reason.
  it("objects of pathological size: each bad one is skipped with its place and reason, the rest load", (ctx) => {
    reliability(ctx, {
      scenario: "Pathological objects in the datastore file",
      load: "a file with a Node and BGPPeers with 20,000-term and 20,000-deep selectors, and a billion-laughs document",
      fault: "selectors that overflowed the stack; YAML aliases past the library's limit",
      checked:
        "each bad object skipped with its document and reason; the rest load; the long selector selects its node",
    });
    const has = Array.from({ length: 20_000 }, (_, i) => `has(k${i})`).join(" || ");
    const nested = `${"(".repeat(20_000)}has(a)${")".repeat(20_000)}`;
    // 9 levels of 10 aliases: a billion-laughs document, refused by the YAML library's alias limit
    const laughs = [
      "a0: &a0 [lol]",
      ...Array.from({ length: 9 }, (_, i) => {
        const refs = Array.from({ length: 10 }, () => `*a${i}`).join(", ");
        return `a${i + 1}: &a${i + 1} [${refs}]`;
      }),
    ].join("\n");
    const text = [
      "apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n1, labels: {k19999: x}}\nspec: {bgp: {ipv4Address: 100.64.0.1/24}}",
      `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: long}\nspec: {peerIP: 203.0.113.1, asNumber: 65001, nodeSelector: "${has}"}`,
      `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: deep}\nspec: {peerIP: 203.0.113.2, asNumber: 65001, nodeSelector: "${nested}"}`,
      laughs,
    ].join("\n---\n");
    const p = parseFile("cfg.yaml", text);
    expect(p.resources.map((r) => `${r.kind}/${r.name}`)).toEqual(["Node/n1", "BGPPeer/long"]);
    expect(p.invalid.map((i) => i.key)).toEqual(["cfg.yaml: document 3", "cfg.yaml: document 4"]);
    expect(p.invalid[0]!.reason).toMatch(
      /^spec\.nodeSelector: invalid selector .* nested more than 100 deep$/,
    );
    expect(p.invalid[0]!.reason.length).toBeLessThan(500);
    expect(p.invalid[1]!.reason).toMatch(/alias/i);
    expect(p.keep).toEqual(new Set(["BGPPeer/deep"]));
    // the long selector is evaluated when node n1's peerings are computed: its last term selects n1
    const store = new Store();
    store.replace(["Node", "BGPPeer"], p.resources, new Set());
    store.markSynced();
    const peers = computePeerings(store.snapshot(), { ip: "100.64.0.1" }).peers;
    expect(peers.map((s) => `${s.address} ${s.from}`)).toEqual(["203.0.113.1 bgppeers/long"]);
  });

  it("the embedded default parses and yields the example peerings", () => {
    const store = new Store();
    const src = new FileSource(EMBEDDED_DEFAULT, store, pino({ level: "silent" }));
    src.start();
    src.stop();
    const p = computePeerings(store.snapshot(), { ip: "127.0.0.1" });
    expect(p.peers.map((s) => `${s.address}:${s.port} ${s.type}`)).toEqual([
      "127.0.0.2:1179 global",
      "127.0.0.3:1179 global",
    ]);
    expect(p.listenPort).toBe(1179);
  });
});

describe("FileSource", () => {
  it("reloads when the file is replaced; bad YAML keeps the last good state; an invalid object keeps its last version", async () => {
    const dir = workdir("file");
    const path = join(dir, "calico.yaml");
    const node = (name: string, ip: string) =>
      `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}}\nspec: {bgp: {ipv4Address: ${ip}}}\n`;
    writeFileSync(path, node("n1", "100.64.0.1"));
    const store = new Store();
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => lines.push(l) });
    const src = new FileSource(path, store, log);
    let changes = 0;
    store.on("change", () => changes++);
    src.start();
    expect(store.synced).toBe(true);
    expect([...store.snapshot().nodes.keys()]).toEqual(["n1"]);

    // an editor's save: write elsewhere, rename over
    writeFileSync(`${path}.tmp`, `${node("n1", "100.64.0.1")}---\n${node("n2", "100.64.0.2")}`);
    renameSync(`${path}.tmp`, path);
    await waitFor(() => store.snapshot().nodes.has("n2"), 5000, "reload on change");

    writeFileSync(path, "kind: [broken\n");
    await waitFor(
      () => lines.some((l) => l.includes("keeping the last good state")),
      5000,
      "bad YAML logged",
    );
    expect([...store.snapshot().nodes.keys()].sort()).toEqual(["n1", "n2"]);

    // n2 turns invalid: it keeps its last good version; n1's removal applies
    const before = changes;
    writeFileSync(path, node("n2", "bad"));
    await src.reload();
    expect(store.snapshot().nodes.get("n2")?.ipv4).toBe("100.64.0.2");
    expect(store.snapshot().nodes.has("n1")).toBe(false);
    expect(lines.some((l) => l.includes("invalid object skipped") && l.includes("document 1"))).toBe(true);
    await waitFor(() => changes > before, 1000, "change event");
    src.stop();
  });

  it("reloads when a ConfigMap volume swaps its ..data symlink (the file's own name sees no event)", async () => {
    // the kubelet's layout: NAME -> ..data/NAME, ..data -> ..<timestamp>/; an update writes a
    // new timestamped directory and renames a new ..data symlink over the old one
    const dir = workdir("configmap");
    const node = (name: string) =>
      `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}}\nspec: {bgp: {ipv4Address: 100.64.0.1}}\n`;
    const version = (stamp: string, text: string) => {
      mkdirSync(join(dir, stamp));
      writeFileSync(join(dir, stamp, "calico.yaml"), text);
      symlinkSync(stamp, join(dir, "..data_tmp"));
      renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    };
    version("..2026_12_01_a", node("n1"));
    symlinkSync("..data/calico.yaml", join(dir, "calico.yaml"));
    const store = new Store();
    const src = new FileSource(join(dir, "calico.yaml"), store, pino({ level: "silent" }));
    src.start();
    expect([...store.snapshot().nodes.keys()]).toEqual(["n1"]);
    version("..2026_12_01_b", node("n2"));
    await waitFor(() => store.snapshot().nodes.has("n2"), 5000, "the reload after the swap");
    expect(store.snapshot().nodes.has("n1")).toBe(false);
    src.stop();
  });

  it("a missing file stops start-up with its path", () => {
    const src = new FileSource("/nonexistent/calico.yaml", new Store(), pino({ level: "silent" }));
    expect(() => src.start()).toThrow(/^\/nonexistent\/calico\.yaml: ENOENT/);
  });
});
