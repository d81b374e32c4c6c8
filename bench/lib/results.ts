// Load results: the JSON file, the table of ratios (ours against each other reflector, same run)
// and an SVG chart of convergence time and memory against N per implementation.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { RESULTS_DIR, writeResult } from "./report.js";

export interface Run {
  scenario: string;
  kind: string;
  n: number;
  k: number;
  establishMs?: number;
  convergence?: { p50: number; p99: number; last: number };
  announceMs?: number;
  withdrawMs?: number;
  cpuMs?: number;
  peakRssMiB?: number;
  memoryPerPeerKiB?: number;
  bytesSent?: number;
  maxGapMs?: number;
  tableCheck?: {
    sampled: number;
    exact: boolean;
    errors: string[];
    lowestHeldDuringRun: number;
    /** the node that held the fewest, when (ms after announce), and its sessions then */
    lowestHeldAt?: string;
  };
  notifications?: string[];
  [extra: string]: unknown;
}

export function writeRuns(name: string, result: object): void {
  writeResult(name, result);
}

const fmt = (ms: number | undefined) =>
  ms === undefined ? "-" : ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`;
const ratio = (theirs: number | undefined, ours: number | undefined) =>
  theirs === undefined || ours === undefined || ours === 0 ? "-" : `${(theirs / ours).toFixed(1)}x`;

/** Markdown: one row per scenario and size, each implementation's time, and how many times ours is faster. */
export function ratioTable(runs: Run[]): string {
  const kinds = [...new Set(runs.map((r) => r.kind))].filter((k) => k !== "ours");
  const key = (r: Run) => `${r.scenario}|${r.n}|${r.k}`;
  const groups = new Map<string, Run[]>();
  for (const r of runs) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  // churn: settling after the flapping; restart: back to complete tables; else convergence
  const time = (r: Run | undefined): number | undefined => {
    if (r?.scenario === "churn" || r?.scenario === "soak") return r.settleMs as number | undefined;
    if (r && ["restart", "rolling", "both"].includes(r.scenario)) return r.restartMs as number | undefined;
    return r?.convergence?.last ?? r?.announceMs;
  };
  const others = (f: (k: string) => string) => kinds.map((k) => ` ${f(k)} |`).join("");
  const lines = [
    `| scenario | N | k | ours |${others((k) => `${k} | ours faster than ${k}`)} ours peak RSS | ours CPU | ours longest keepalive gap |`,
    `|---|---|---|---|${others(() => "---|---")}---|---|---|`,
  ];
  for (const rs of groups.values()) {
    const ours = rs.find((r) => r.kind === "ours");
    const first = rs[0] as Run;
    const cells = kinds.flatMap((k) => {
      const t = rs.find((r) => r.kind === k);
      return [fmt(time(t)), ratio(time(t), time(ours))];
    });
    lines.push(
      `| ${first.scenario} | ${first.n} | ${first.k} | ${fmt(time(ours))} |${cells.map((c) => ` ${c} |`).join("")} ${ours?.peakRssMiB ?? "-"} MiB | ${fmt(ours?.cpuMs)} | ${fmt(ours?.maxGapMs)} |`,
    );
  }
  const restarts = [...groups.values()].filter((rs) => typeof rs[0]?.mostMissing === "number");
  if (restarts.length) {
    // What the restart rows are judged by: routes missing at any client at any moment.
    const missing = (r: Run | undefined) =>
      r && typeof r.mostMissing === "number" ? String(r.mostMissing) : "-";
    lines.push(
      "",
      `| restarts: most routes missing at any client during the run (of N-1) | N | ours |${kinds.map((k) => ` ${k} |`).join("")}`,
      `|---|---|---|${kinds.map(() => "---|").join("")}`,
      ...restarts.map(
        (rs) =>
          `| ${rs[0]!.scenario} | ${rs[0]!.n} | ${missing(rs.find((r) => r.kind === "ours"))} |${kinds.map((k) => ` ${missing(rs.find((r) => r.kind === k))} |`).join("")}`,
      ),
    );
  }
  const churn = runs.filter((r) => r.scenario === "churn" && typeof r.churnBytes === "number");
  if (churn.length) {
    // Bytes written to the clients during churn: what export suppression saves.
    const mib = (r: Run | undefined) =>
      r && typeof r.churnBytes === "number" ? `${(r.churnBytes / 2 ** 20).toFixed(1)} MiB` : "-";
    const ours = churn.find((r) => r.kind === "ours");
    lines.push(
      "",
      `| churn: bytes written to the clients, flapping until settled | ours |${others((k) => `${k} | ours smaller than ${k}`)}`,
      `|---|---|${others(() => "---|---")}`,
      `| N=${ours?.n ?? churn[0]!.n} | ${mib(ours)} |${kinds
        .flatMap((k) => {
          const t = churn.find((r) => r.kind === k);
          return [mib(t), ratio(t?.churnBytes as number | undefined, ours?.churnBytes as number | undefined)];
        })
        .map((c) => ` ${c} |`)
        .join("")}`,
    );
  }
  return lines.join("\n");
}

const COLOURS: Record<string, string> = {
  ours: "#d62728",
  bird: "#1f77b4",
  gobgp: "#2ca02c",
  frr: "#9467bd",
};

/** Two panels: calico-mesh convergence (last node, s) and peak RSS (MiB) against N, log scales. */
export function chart(name: string, runs: Run[]): void {
  const mesh = runs.filter((r) => r.scenario === "calico-mesh" && r.k === 1 && r.convergence);
  const panel = (x0: number, title: string, value: (r: Run) => number) => {
    const w = 380;
    const h = 260;
    const ns = mesh.map((r) => r.n);
    const vs = mesh.map(value).filter((v) => v > 0);
    if (!ns.length || !vs.length) return "";
    const lx = (n: number) =>
      x0 +
      50 +
      ((Math.log10(n) - Math.log10(Math.min(...ns))) /
        Math.max(1e-9, Math.log10(Math.max(...ns)) - Math.log10(Math.min(...ns)))) *
        (w - 70);
    const lo = Math.log10(Math.min(...vs)) - 0.1;
    const hi = Math.log10(Math.max(...vs)) + 0.1;
    const ly = (v: number) => 30 + (1 - (Math.log10(Math.max(v, 1e-3)) - lo) / (hi - lo)) * (h - 70);
    const out = [
      `<text x="${x0 + w / 2}" y="18" text-anchor="middle" font-size="13">${title}</text>`,
      `<line x1="${x0 + 50}" y1="${h - 40}" x2="${x0 + w - 20}" y2="${h - 40}" stroke="#888"/>`,
      `<line x1="${x0 + 50}" y1="30" x2="${x0 + 50}" y2="${h - 40}" stroke="#888"/>`,
    ];
    for (const n of [...new Set(ns)])
      out.push(`<text x="${lx(n)}" y="${h - 24}" text-anchor="middle" font-size="10">${n}</text>`);
    for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) {
      out.push(
        `<text x="${x0 + 45}" y="${ly(10 ** e) + 3}" text-anchor="end" font-size="10">${10 ** e}</text>`,
      );
    }
    for (const kind of [...new Set(mesh.map((r) => r.kind))]) {
      const pts = mesh.filter((r) => r.kind === kind && value(r) > 0).sort((a, b) => a.n - b.n);
      const colour = COLOURS[kind] ?? "#000";
      out.push(
        `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${pts.map((r) => `${lx(r.n)},${ly(value(r))}`).join(" ")}"/>`,
      );
      for (const r of pts) out.push(`<circle cx="${lx(r.n)}" cy="${ly(value(r))}" r="3" fill="${colour}"/>`);
    }
    out.push(
      `<text x="${x0 + w / 2}" y="${h - 8}" text-anchor="middle" font-size="11">N clients (k = 1)</text>`,
    );
    return out.join("\n");
  };
  const legend = [...new Set(mesh.map((r) => r.kind))]
    .map(
      (k, i) =>
        `<rect x="${60 + i * 90}" y="272" width="12" height="12" fill="${COLOURS[k] ?? "#000"}"/><text x="${76 + i * 90}" y="282" font-size="12">${k}</text>`,
    )
    .join("\n");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="780" height="295" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
${panel(0, "calico-mesh: convergence of the last client (s)", (r) => (r.convergence?.last ?? 0) / 1000)}
${panel(390, "peak RSS of the reflector (MiB)", (r) => r.peakRssMiB ?? 0)}
${legend}
</svg>
`;
  writeFileSync(resolve(RESULTS_DIR, `${name}.svg`), svg);
}

/** The table, with the machine and versions, as Markdown next to the JSON. */
export function writeTable(name: string, header: string, table: string): void {
  writeFileSync(resolve(RESULTS_DIR, `${name}.md`), `${header}\n\n${table}\n`);
}
