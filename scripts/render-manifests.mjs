#!/usr/bin/env node
// Writes the plain manifests deploy/rbac.yaml and deploy/routereflector.yaml: the chart
// (deploy/chart) rendered by helm with its default values, in kube-system. With --check, writes
// nothing and exits 1 when the files differ from what the chart renders (test/cli/deploy.test.ts).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const helm = join(root, "node_modules/.bin/helm");
const rendered = execFileSync(
  helm,
  ["template", "routereflector", join(root, "deploy/chart"), "--namespace", "kube-system"],
  { encoding: "utf8" },
);
const docs = rendered
  .split(/^---\n/m)
  .map((d) => d.replace(/^# Source: .*\n/m, "").trim())
  .filter(Boolean);
const kind = (d) => /^kind: (\w+)$/m.exec(d)?.[1];
const header = (what) =>
  `# ${what}\n# Generated from deploy/chart with its default values (scripts/render-manifests.mjs): edit the\n# chart, then run the script. \`helm install routereflector deploy/chart -n kube-system\` is the same.\n`;
const files = {
  "deploy/rbac.yaml": [
    header("routereflector's ServiceAccount and RBAC: read-only, Secrets by name."),
    docs.filter((d) =>
      ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(kind(d)),
    ),
  ],
  "deploy/routereflector.yaml": [
    header("Two route reflectors in node mode, and their PodDisruptionBudget. Apply with rbac.yaml."),
    docs.filter((d) => ["Deployment", "PodDisruptionBudget"].includes(kind(d))),
  ],
};
const placed = Object.values(files).reduce((n, [, ds]) => n + ds.length, 0);
if (placed !== docs.length) throw new Error(`render-manifests: ${docs.length - placed} objects of no file`);
let differ = false;
for (const [file, [head, ds]] of Object.entries(files)) {
  const text = `${head}${ds.map((d) => `---\n${d}\n`).join("")}`;
  const path = join(root, file);
  if (process.argv.includes("--check")) {
    let now = "";
    try {
      now = readFileSync(path, "utf8");
    } catch {}
    if (now !== text) {
      console.error(`${file} differs from the chart: run node scripts/render-manifests.mjs`);
      differ = true;
    }
  } else writeFileSync(path, text);
}
process.exit(differ ? 1 : 0);
