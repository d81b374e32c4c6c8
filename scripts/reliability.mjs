// Writes docs/reliability.md from a test run (vitest's JSON report, whose reliability scenarios
// carry task.meta.reliability: see test/helpers/reliability.ts), from long test runs saved in
// bench/results (fuzz-live-1m.json: npm run fuzz:long) and from the bench results (churn, restart
// and the soak). Run by scripts/test.sh after a whole run:
//
//   node scripts/reliability.mjs <vitest-json>
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = resolve(ROOT, "bench/results");
const cell = (text) => String(text).replaceAll("|", "\\|").replaceAll("\n", " ");

/**
 * A test file's path in the repository, whichever clone the report was written in (a saved long
 * run comes from another checkout): never a path of the machine.
 */
const repoPath = (file) => {
  const rel = relative(ROOT, file);
  return rel.startsWith("..") ? file.slice(file.lastIndexOf("/test/") + 1) : rel;
};
const seconds = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** Rows from a test run: every test that declared itself a reliability scenario. */
function testRows(report, from = "") {
  const rows = [];
  for (const file of report.testResults) {
    for (const t of file.assertionResults) {
      const r = t.meta?.reliability;
      if (!r) continue;
      const passed = t.status === "passed";
      const why = passed ? "" : `: ${(t.failureMessages[0] ?? "").split("\n")[0]}`;
      rows.push({
        ...r,
        result: `${passed ? "passed" : `**${t.status.toUpperCase()}**${why}`} (${seconds(t.duration ?? 0)})${r.measured ? `; ${r.measured}` : ""}`,
        source: `${repoPath(file.name)}: “${t.title}”${from}`,
      });
    }
  }
  return rows;
}

/** The runs saved in one bench result file (a merged file keeps its parts). */
function benchRuns(name) {
  const path = resolve(RESULTS, `${name}.json`);
  if (!existsSync(path)) return [];
  const saved = JSON.parse(readFileSync(path, "utf8"));
  const parts = saved.parts ?? [saved];
  return parts.flatMap((p) =>
    p.runs.map((run) => ({ run, date: p.machine.date.slice(0, 10), commit: p.machine.commit })),
  );
}

const mib = (bytes) => (typeof bytes === "number" ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : "-");

const exact = (run) =>
  run.tableCheck?.exact
    ? `every table exact (all ${run.n} by prefix set, ${run.tableCheck.sampled} decoded in full)`
    : `**tables wrong**: ${(run.tableCheck?.errors ?? []).slice(0, 2).join("; ")}`;

/** The bench scenarios that are reliability scenarios: result file, scenario, and its row. */
const BENCH = [
  [
    "availability",
    "churn",
    (r, others) => ({
      scenario: "Churn",
      load: `${r.n} simulated Calico nodes over TCP, ${r.k} route each`,
      fault: "10% of them drop and reopen their sessions every 2-4 s for 60 s",
      checked: "tables after the flapping (consistency checker in the simulator); keepalive gaps",
      result: `settled ${seconds(r.settleMs)} after${others.length ? ` (in the same run: ${others.map((o) => `${o.kind} ${seconds(o.settleMs)}`).join(", ")})` : ""}; ${mib(r.churnBytes)} written to the clients meanwhile${others.length ? ` (${others.map((o) => `${o.kind} ${mib(o.churnBytes)}`).join(", ")})` : ""}; ${exact(r)}; longest keepalive gap ${seconds(r.maxGapMs)}`,
    }),
  ],
  [
    "availability",
    "restart",
    (r, others) => ({
      scenario: "Reflector restart with graceful restart",
      load: `${r.n} simulated Calico nodes over TCP with graceful restart, ${r.k} route each; they keep routes only as RFC 4724 §4.2 lets them`,
      fault: "the reflector is killed (no NOTIFICATION) and started again 2 s later",
      checked: "the fewest routes any client held at any time; whole, exact tables again",
      result: `fewest routes any client held: ${r.tableCheck.lowestHeldDuringRun} of ${(r.n - 1) * r.k}${others.length ? ` (in the same run: ${others.map((o) => `${o.kind} ${o.tableCheck?.lowestHeldDuringRun ?? "-"}`).join(", ")})` : ""}; whole tables again ${seconds(r.restartMs)} after the kill; ${exact(r)}`,
    }),
  ],
  [
    "availability",
    "rolling",
    (r, others) => ({
      scenario: "Two reflectors, rolling restart",
      load: `${r.n} simulated Calico nodes over TCP with graceful restart, each a client of both reflectors, ${r.k} route each`,
      fault:
        "SIGTERM to one reflector, a new process 2 s later; once every table is whole again, the same to the other (a Deployment rollout)",
      checked:
        "the most routes missing at any client at any time (held from neither reflector); whole, exact tables again",
      result: `most routes missing at any client: ${r.mostMissing}${others.length ? ` (in the same run: ${others.map((o) => `${o.kind} ${o.mostMissing ?? "-"}`).join(", ")})` : ""}; whole tables again ${seconds(r.restartMs)} after the first stop; ${exact(r)}`,
    }),
  ],
  [
    "availability",
    "both",
    (r, others) => ({
      scenario: "Two reflectors restarted at once",
      load: `${r.n} simulated Calico nodes over TCP with graceful restart, each a client of both reflectors, ${r.k} route each`,
      fault: "SIGTERM to both reflectors at the same moment, new processes 2 s later",
      checked: "the most routes missing at any client at any time; whole, exact tables again",
      result: `most routes missing at any client: ${r.mostMissing}${others.length ? ` (in the same run: ${others.map((o) => `${o.kind} ${o.mostMissing ?? "-"}`).join(", ")})` : ""}; whole tables again ${seconds(r.restartMs)} after the stop; ${exact(r)}`,
    }),
  ],
  [
    "soak",
    "soak",
    (r) => ({
      scenario: "Soak",
      load: `${r.n} simulated Calico nodes over TCP, ${r.k} route each`,
      fault: `10% of them drop and reopen their sessions every 2-4 s for ${r.minutes} minutes`,
      checked: `RSS: the last ${r.windowMinutes} minutes' peak against the ${r.windowMinutes} after warm-up, within 10%; tables after`,
      result: `RSS peak ${r.firstWindowPeakRssMiB} → ${r.lastWindowPeakRssMiB} MiB (${r.rssGrowthPercent > 0 ? "+" : ""}${r.rssGrowthPercent}%): ${r.rssStable ? "stable" : "**grew**"}; ${r.flaps} sessions dropped; settled ${seconds(r.settleMs)} after; ${exact(r)}`,
    }),
  ],
];

/** Rows from the bench: each scenario's latest saved run of our reflector. */
function benchRows() {
  return BENCH.flatMap(([name, scenario, row]) => {
    const runs = benchRuns(name).filter((r) => r.run.scenario === scenario);
    const latest = runs.filter((r) => r.run.kind === "ours").pop();
    if (!latest) return [];
    const others = runs.filter((r) => r.run.kind !== "ours" && r.commit === latest.commit).map((r) => r.run);
    return [
      {
        ...row(latest.run, others),
        source: `bench/results/${name}.json (${latest.date}, commit ${latest.commit})`,
      },
    ];
  });
}

const [jsonPath] = process.argv.slice(2);
if (!jsonPath) {
  console.error("usage: node scripts/reliability.mjs <vitest-json>");
  process.exit(2);
}
const report = JSON.parse(readFileSync(jsonPath, "utf8"));
const commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
const when = new Date(report.startTime).toISOString().slice(0, 16).replace("T", " ");
/** Long runs of reliability tests, saved as vitest JSON reports. */
function longRuns() {
  return ["fuzz-live-1m"].flatMap((name) => {
    const path = resolve(RESULTS, `${name}.json`);
    if (!existsSync(path)) return [];
    const saved = JSON.parse(readFileSync(path, "utf8"));
    const date = new Date(saved.startTime).toISOString().slice(0, 10);
    return testRows(saved, ` (bench/results/${name}.json, ${date})`);
  });
}

const rows = [...testRows(report), ...longRuns(), ...benchRows()];
const lines = [
  "# Reliability",
  "",
  `Generated by \`scripts/reliability.mjs\` from the test run of ${when} UTC at commit ${commit}`,
  `(${report.numPassedTests} passed, ${report.numFailedTests} failed) and from the bench results it names;`,
  "not written by hand. `npm test` rewrites it; the bench rows change when `npm run bench:full` or",
  "`npm run bench:soak` saves new results.",
  "",
  "| scenario | load | fault | checked | result | from |",
  "|---|---|---|---|---|---|",
  ...rows.map(
    (r) => `| ${[r.scenario, r.load, r.fault, r.checked, r.result, r.source].map(cell).join(" | ")} |`,
  ),
  "",
];
writeFileSync(resolve(ROOT, "docs/reliability.md"), lines.join("\n"));
console.log(`docs/reliability.md: ${rows.length} scenarios`);
