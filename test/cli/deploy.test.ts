// The deploy/ manifests agree with the program: every variable they set exists, the probes ask the
// HTTP endpoint they configure, and the ServiceAccount and RBAC they use exist with read-only verbs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { VARIABLES } from "../../src/daemon/index.js";
import { REPO_ROOT } from "../helpers/shared.js";

type Doc = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const docs = (file: string): Doc[] =>
  parseAllDocuments(readFileSync(join(REPO_ROOT, "deploy", file), "utf8")).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Doc;
  });

describe("deploy/", () => {
  const rbac = docs("rbac.yaml");
  const manifests = docs("routereflector.yaml");
  const deployment = manifests.find((d) => d.kind === "Deployment");
  const spec = (
    deployment as unknown as { spec: { replicas: number; template: { spec: Record<string, unknown> } } }
  ).spec;
  const pod = spec.template.spec as {
    serviceAccountName: string;
    containers: {
      env: { name: string; value?: string }[];
      livenessProbe: { httpGet: { path: string; port: number } };
      readinessProbe: { httpGet: { path: string; port: number } };
    }[];
  };
  const container = pod.containers[0];

  it("two reflectors, every variable known, probes on HTTP_LISTEN's port", () => {
    expect(spec.replicas).toBe(2);
    const names = new Set<string>(VARIABLES.map(([n]) => n));
    for (const e of container?.env ?? []) expect(names.has(e.name), e.name).toBe(true);
    const http = container?.env.find((e) => e.name === "HTTP_LISTEN")?.value ?? "";
    expect(container?.livenessProbe.httpGet).toEqual({ path: "/livez", port: Number(http.split(":").pop()) });
    expect(container?.readinessProbe.httpGet).toEqual({
      path: "/readyz",
      port: Number(http.split(":").pop()),
    });
  });

  // Issue 14: a rollout or a drain never takes both reflectors at once.
  it("rolled one at a time, available only a while after ready, and a PodDisruptionBudget of one", () => {
    const d = deployment as unknown as {
      spec: {
        strategy: { rollingUpdate: { maxUnavailable: number; maxSurge: number } };
        minReadySeconds: number;
      };
    };
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 1, maxSurge: 0 });
    expect(d.spec.minReadySeconds).toBeGreaterThanOrEqual(10);
    const pdb = manifests.find((m) => m.kind === "PodDisruptionBudget") as unknown as {
      metadata: { namespace: string };
      spec: { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.maxUnavailable).toBe(1);
    expect(pdb.metadata.namespace).toBe(deployment?.metadata.namespace);
    const selector = (
      deployment as unknown as { spec: { selector: { matchLabels: Record<string, string> } } }
    ).spec.selector.matchLabels;
    expect(pdb.spec.selector.matchLabels).toEqual(selector);
  });

  it("its ServiceAccount exists and may only read", () => {
    expect(rbac.find((d) => d.kind === "ServiceAccount")?.metadata.name).toBe(pod.serviceAccountName);
    const verbs = rbac
      .filter((d) => d.kind === "ClusterRole" || d.kind === "Role")
      .flatMap((d) => (d.rules as { verbs: string[] }[]).flatMap((r) => r.verbs));
    expect([...new Set(verbs)].sort()).toEqual(["list", "watch"]);
    for (const b of rbac.filter((d) => d.kind.endsWith("Binding"))) {
      expect((b.subjects as { name: string }[])[0]?.name).toBe(pod.serviceAccountName);
    }
  });

  it("its ClusterRole lets it read every Calico kind the Kubernetes source watches", () => {
    // a kind it may not list is a 403 it retries forever: the reflector would never sync
    const source = readFileSync(new URL("../../src/datastore/kubernetes.ts", import.meta.url), "utf8");
    const watched = [...source.matchAll(/resource\("(\w+)"/g)].map((m) => m[1]!);
    expect(watched).toEqual(expect.arrayContaining(["bgppeers", "bgpfilters", "ippools"]));
    const calico = rbac
      .filter((d) => d.kind === "ClusterRole")
      .flatMap((d) => d.rules as { apiGroups: string[]; resources: string[] }[])
      .filter(
        (r) => r.apiGroups.includes("crd.projectcalico.org") && r.apiGroups.includes("projectcalico.org"),
      )
      .flatMap((r) => r.resources);
    expect(calico.sort()).toEqual([...watched].sort());
  });
});
