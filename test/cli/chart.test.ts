// The Helm chart (deploy/chart): lint, the plain manifests equal to its rendering, every object it
// renders, with every toggle, valid against the Kubernetes schemas (types and required fields from
// kubernetes-models; unknown fields from @kubernetes/client-node's models, as strict field
// validation refuses them), its values refused by values.schema.json naming the field, and one
// version everywhere.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { VARIABLES } from "../../src/daemon/index.js";
import { CHART, HELM, type Obj, render } from "../helpers/chart.js";
import { REPO_ROOT } from "../helpers/shared.js";

/** Fields the Kubernetes model of `type` does not have, by path (recursively). */
function unknownFields(type: string, value: unknown, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return (value as unknown[]).flatMap((v, i) => unknownFields(array[1]!, v, `${path}[${i}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map)
    return Object.entries(value as object).flatMap(([key, v]) => unknownFields(map[1]!, v, `${path}.${key}`));
  const model = (
    k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>
  )[type];
  const attrs = model?.getAttributeTypeMap?.();
  if (!attrs) return []; // a string, a number, IntOrString...
  return Object.entries(value as object).flatMap(([key, v]) => {
    const a = attrs.find((x) => x.baseName === key);
    return a ? unknownFields(a.type, v, `${path}.${key}`) : [`${path}.${key}`];
  });
}

/** Validation errors of one object against its kind's schema ("" when valid). */
async function invalid(o: Obj): Promise<string> {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  const module =
    group === "monitoring.coreos.com"
      ? `@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`
      : `kubernetes-models/${group ? `${group}/` : ""}${version}/${o.kind}`;
  const Model = (await import(module))[o.kind] as new (o: Obj) => { validate(): void };
  try {
    new Model(o).validate();
  } catch (e) {
    return `${o.kind} ${o.metadata.name}: ${(e as Error).message}`;
  }
  if (group === "monitoring.coreos.com") return "";
  const unknown = unknownFields(`V1${o.kind}`, o, o.kind);
  return unknown.length ? `${o.kind} ${o.metadata.name}: unknown fields ${unknown.join(", ")}` : "";
}

const EVERYTHING = {
  replicas: 3,
  clusterId: "224.0.0.7",
  "datastore.type": "etcdv3",
  "datastore.etcd.endpoints": "https://etcd-0:2379,https://etcd-1:2379",
  "datastore.etcd.tlsSecret": "etcd-client",
  extraEnv: [{ name: "ADD_PATHS", value: "2" }],
  "serviceMonitor.enabled": true,
  "serviceMonitor.labels": { release: "prometheus" },
  "prometheusRule.enabled": true,
  "grafanaDashboard.enabled": true,
  priorityClassName: "",
};

describe("the Helm chart", () => {
  it("its checks find a wrong type, a missing field and an unknown one", async () => {
    const d = render().find((o) => o.kind === "Deployment") as Obj & { spec: Record<string, unknown> };
    expect(await invalid({ ...d, spec: { ...d.spec, replicas: "2" } })).toMatch(/replicas must be integer/);
    expect(await invalid({ ...d, spec: { ...d.spec, selector: undefined } })).toMatch(/selector/);
    expect(await invalid({ ...d, spec: { ...d.spec, replicaz: 2 } })).toMatch(
      /unknown fields Deployment\.spec\.replicaz$/,
    );
  });

  it("lints", () => {
    const r = spawnSync(HELM, ["lint", CHART, "--strict", "--namespace", "kube-system"], {
      encoding: "utf8",
    });
    expect(r.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(r.status).toBe(0);
  });

  it("renders deploy/rbac.yaml and deploy/routereflector.yaml, the plain manifests, with its defaults", () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, "scripts/render-manifests.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect([r.status, r.stderr]).toEqual([0, ""]);
  });

  it.each([
    ["its defaults", {}],
    ["every toggle on, etcd with TLS", EVERYTHING],
    [
      "legacy mode, no zone spread, no PodDisruptionBudget, no password Secrets",
      {
        nodeMode: false,
        "zoneSpread.enabled": false,
        "podDisruptionBudget.enabled": false,
        passwordSecrets: [],
      },
    ],
    ["the reflector assignment on", { "assignment.reflectors": 2 }],
  ])("with %s, every object is valid against its Kubernetes schema, with no unknown field", async (_, values) => {
    const objects = render(values);
    expect(objects.length).toBeGreaterThan(0);
    const errors = (await Promise.all(objects.map(invalid))).filter(Boolean);
    expect(errors).toEqual([]);
    // every variable it sets is one the program reads
    const names = new Set<string>(VARIABLES.map(([n]) => n));
    const d = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: { env: { name: string }[] }[] } } };
    };
    for (const e of d.spec.template.spec.containers[0]?.env ?? [])
      expect(names.has(e.name), e.name).toBe(true);
  });

  it("every toggle renders what it says", () => {
    const objects = render(EVERYTHING);
    const kinds = objects.map((o) => o.kind).sort();
    // etcd: no RBAC for the Kubernetes API
    expect(kinds).toEqual([
      "ConfigMap",
      "Deployment",
      "PodDisruptionBudget",
      "PrometheusRule",
      "Service",
      "ServiceAccount",
      "ServiceMonitor",
    ]);
    const pod = (
      objects.find((o) => o.kind === "Deployment") as unknown as {
        spec: {
          replicas: number;
          template: {
            spec: Record<string, unknown> & { containers: { env: { name: string; value?: string }[] }[] };
          };
        };
      }
    ).spec;
    expect(pod.replicas).toBe(3);
    const env = Object.fromEntries(pod.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      DATASTORE_TYPE: "etcdv3",
      ETCD_ENDPOINTS: "https://etcd-0:2379,https://etcd-1:2379",
      ETCD_CA_CERT_FILE: "/etc/routereflector/etcd/ca.crt",
      CLUSTER_ID: "224.0.0.7",
      ADD_PATHS: "2",
    });
    expect(pod.template.spec.priorityClassName).toBeUndefined();
    // the rules and the dashboard are the files the operate tests check against a live /metrics
    const rules = objects.find((o) => o.kind === "PrometheusRule") as unknown as { spec: unknown };
    expect(rules.spec).toEqual(parse(readFileSync(join(CHART, "files/prometheus-rules.yaml"), "utf8")));
    const dashboard = objects.find((o) => o.kind === "ConfigMap") as unknown as {
      data: Record<string, string>;
    };
    expect(JSON.parse(dashboard.data["routereflector.json"]!)).toEqual(
      JSON.parse(readFileSync(join(CHART, "files/grafana-dashboard.json"), "utf8")),
    );
    const monitor = objects.find((o) => o.kind === "ServiceMonitor") as unknown as {
      metadata: { labels: Record<string, string> };
    };
    expect(monitor.metadata.labels.release).toBe("prometheus");
  });

  it("grants the assignment's writes only while it is on or cleaning up", () => {
    const rules = (values: Record<string, unknown>) =>
      render(values)
        .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
        .flatMap((o) => (o as unknown as { rules: { resources: string[]; verbs: string[] }[] }).rules)
        .map((r) => `${r.resources.join(",")}: ${r.verbs.join(",")}`);
    const writes = [
      "nodes: list,watch,get,patch",
      "bgppeers: get,create,update,delete",
      "leases: get,list,watch,create,update,delete",
    ];
    expect(rules({ "assignment.reflectors": 2 })).toEqual(expect.arrayContaining(writes));
    expect(rules({ "assignment.cleanUp": true })).toEqual(expect.arrayContaining(writes));
    const off = rules({});
    expect(off).toContain("nodes: list,watch");
    expect(off.filter((r) => /create|patch|update|delete/.test(r))).toEqual([]);
    const env = (values: Record<string, unknown>) =>
      (
        render(values).find((o) => o.kind === "Deployment") as unknown as {
          spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
        }
      ).spec.template.spec.containers[0]!.env.filter((e) => e.name.startsWith("ASSIGN_"));
    expect(env({ "assignment.reflectors": 2 })).toEqual([
      { name: "ASSIGN_REFLECTORS", value: "2" },
      { name: "ASSIGN_GRACE_PERIOD", value: "60" },
      { name: "ASSIGN_ZONE_LABEL", value: "topology.kubernetes.io/zone" },
    ]);
    expect(env({})).toEqual([]);
  });

  it("spreads over zones and lets it read only the Secrets named", () => {
    const objects = render({ passwordSecrets: ["bgp-secrets", "edge-passwords"] });
    const role = objects.find((o) => o.kind === "Role") as unknown as {
      rules: { resources: string[]; resourceNames: string[]; verbs: string[] }[];
    };
    expect(role.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: ["bgp-secrets", "edge-passwords"],
        verbs: ["list", "watch"],
      },
    ]);
    const spec = (
      objects.find((o) => o.kind === "Deployment") as unknown as {
        spec: { template: { spec: { topologySpreadConstraints: { topologyKey: string }[] } } };
      }
    ).spec.template.spec;
    expect(spec.topologySpreadConstraints[0]?.topologyKey).toBe("topology.kubernetes.io/zone");
  });

  it.each([
    [{ replicas: "two" }, /replicas/],
    [{ "datastore.type": "etcd" }, /datastore\.type|type/],
    [{ "datastore.type": "etcdv3" }, /etcd|endpoints/],
    [{ clusterId: "not-an-address" }, /clusterId/],
    [{ replica: 2 }, /replica/],
    [{ passwordSecrets: ["Not_A_Name"] }, /passwordSecrets/],
  ])("refuses %j, naming the field", (values, field) => {
    const sets = Object.entries(values).flatMap(([k, v]) => ["--set-json", `${k}=${JSON.stringify(v)}`]);
    const r = spawnSync(HELM, ["template", "routereflector", CHART, ...sets], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(field);
  });

  it("one version: package.json, the chart, its appVersion, and every image tag the docs and manifests name", () => {
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string })
      .version;
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as {
      version: string;
      appVersion: string;
    };
    expect([chart.version, chart.appVersion]).toEqual([version, version]);
    const texts = ["deploy/routereflector.yaml", "docs/migrating.md", "README.md", "docs/operations.md"].map(
      (f) => readFileSync(join(REPO_ROOT, f), "utf8"),
    );
    const tags = texts.flatMap((t) =>
      [...t.matchAll(/\broutereflector:(\d+\.\d+\.\d+[\w.-]*)/g)].map((m) => m[1]),
    );
    expect(tags.length).toBeGreaterThan(0);
    for (const t of tags) expect(t).toBe(version);
  });
});
