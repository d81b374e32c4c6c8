// The Helm chart (deploy/chart) rendered with helm template, in kube-system.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { REPO_ROOT } from "./shared.js";

export const CHART = join(REPO_ROOT, "deploy/chart");
export const HELM = join(REPO_ROOT, "node_modules/.bin/helm");

export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

/** helm template with these --set values (JSON), in kube-system. */
export function render(values: Record<string, unknown> = {}): Obj[] {
  const sets = Object.entries(values).flatMap(([k, v]) => ["--set-json", `${k}=${JSON.stringify(v)}`]);
  const out = execFileSync(
    HELM,
    ["template", "routereflector", CHART, "--namespace", "kube-system", ...sets],
    {
      encoding: "utf8",
    },
  );
  return parseAllDocuments(out)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}
