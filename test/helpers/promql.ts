// Checks the queries of the dashboard and the alert rules (deploy/) against a live /metrics: every
// metric they name is exposed, and every label they select or group by is on it. Prometheus adds
// `instance` and `job` when it scrapes; those are taken as given.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "./shared.js";

const SCRAPE_LABELS = new Set(["instance", "job"]);

/** Metric names in the exposition text (from TYPE lines), with the labels their samples carry. */
export function exposed(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) out.set(type[1]!, out.get(type[1]!) ?? new Set());
    const sample = /^([a-zA-Z_:][\w:]*)\{([^}]*)\}/.exec(line);
    if (!sample) continue;
    // a histogram's or summary's series belong to its family
    const name = sample[1]!.replace(/_(bucket|sum|count)$/, (m) => (out.has(sample[1]!) ? m : ""));
    const labels = out.get(name) ?? out.get(sample[1]!) ?? new Set<string>();
    for (const m of sample[2]!.matchAll(/(\w+)="/g)) labels.add(m[1]!);
    out.set(out.has(name) ? name : sample[1]!, labels);
  }
  return out;
}

/** Every query of the dashboard's panels and of the alert rules. */
export function deployedQueries(): string[] {
  const dashboard = JSON.parse(
    readFileSync(join(REPO_ROOT, "deploy/chart/files/grafana-dashboard.json"), "utf8"),
  ) as {
    panels: { targets: { expr: string }[] }[];
    templating: { list: { query?: string }[] };
  };
  const rules = parse(readFileSync(join(REPO_ROOT, "deploy/chart/files/prometheus-rules.yaml"), "utf8")) as {
    groups: { rules: { expr: string }[] }[];
  };
  return [
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...dashboard.templating.list.flatMap((v) =>
      v.query?.startsWith("label_values(") ? [v.query.slice(13, v.query.indexOf(","))] : [],
    ),
    ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
  ];
}

/** What a query asks of the metrics that they do not have. */
export function problems(query: string, metrics: Map<string, Set<string>>): string[] {
  const out: string[] = [];
  const names = [...query.matchAll(/\b((?:routereflector|process|nodejs)_\w+)\b/g)].map((m) => m[1]!);
  if (!names.length) out.push(`${query}: names no metric of ours`);
  for (const n of names) if (!metrics.has(n)) out.push(`${query}: ${n} is not exposed`);
  for (const m of query.matchAll(/(\w+)\{([^}]*)\}/g)) {
    const labels = metrics.get(m[1]!) ?? new Set();
    for (const l of m[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g))
      if (!SCRAPE_LABELS.has(l[1]!) && !labels.has(l[1]!)) out.push(`${query}: ${m[1]} has no label ${l[1]}`);
  }
  const all = new Set(names.flatMap((n) => [...(metrics.get(n) ?? [])]));
  for (const g of query.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    for (const l of g[1]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      if (!SCRAPE_LABELS.has(l) && !all.has(l)) out.push(`${query}: no metric in it has the label ${l}`);
  }
  return out;
}
