// The load benchmark: simulated Calico nodes against this reflector and against BIRD 2, GoBGP and
// FRR, in the same run, on this machine. See bench/README.md.
//
//   node dist-bench/bench/load.js [--short] [--scenarios calico-mesh,churn,soak,...] [--targets ours,bird]
//                                 [--n 100,1000] [--k 1,4] [--soak-minutes 60] [--out name]
//   node dist-bench/bench/load.js --render part1,part2 --out load     (merge saved results)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { assignment } from "./lib/assignment.js";
import { ClientProcess, type Progress } from "./lib/client-process.js";
import type { Plan, Report } from "./lib/clients.js";
import { clientAddress6, MAX_ROUTES } from "./lib/plan.js";
import { machine, RESULTS_DIR, writeResult } from "./lib/report.js";
import { chart, type Run, ratioTable, writeRuns, writeTable } from "./lib/results.js";
import { scale } from "./lib/scale.js";
import { sharedDir } from "./lib/shared.js";
import { KINDS, type Kind, startOurs, startTarget, type Target, usage, versions } from "./lib/targets.js";

const RR = "127.0.50.1";
/** the second reflector of the two-reflector scenarios */
const RR2 = "127.0.50.2";
/** calico-mesh-v6's reflector, in the namespace the run makes (its nodes: clientAddress6) */
const RR6 = "fd42:4242:50::1";

/**
 * Runs a scenario in a network namespace made for it, where the reflector and the nodes have
 * IPv6 addresses of their own on lo (nothing leaves the namespace): this program again, inside,
 * handing back what it measured. The namespace goes when it is done.
 */
function inNamespace(
  scenario: string,
  o: { n: number[]; k: number[]; targets: Kind[] },
): { runs: Run[]; failures: string[] } {
  const netns = `rr-bench6-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "rr-bench-netns-"));
  const file = join(dir, "runs.json");
  const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["pipe", "ignore", "inherit"] });
  ip("netns", "add", netns);
  try {
    ip("-n", netns, "link", "set", "lo", "up");
    const nodes = Math.max(...o.n);
    const addresses = [RR6, ...Array.from({ length: nodes }, (_, i) => clientAddress6(i))];
    execFileSync("ip", ["-n", netns, "-batch", "-"], {
      input: addresses.map((a) => `address add ${a}/128 dev lo nodad`).join("\n"),
    });
    const args = [
      "--scenarios",
      scenario,
      "--n",
      o.n.join(","),
      "--k",
      o.k.join(","),
      "--targets",
      o.targets.join(","),
    ];
    const r = spawnSync(
      "ip",
      [
        "netns",
        "exec",
        netns,
        process.execPath,
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        ...args,
      ],
      {
        stdio: "inherit",
        env: { ...process.env, RR_BENCH_INSIDE: file },
      },
    );
    if (!existsSync(file))
      return {
        runs: [],
        failures: [`${scenario}: the run in its namespace ended (${r.status ?? r.signal}) without results`],
      };
    return JSON.parse(readFileSync(file, "utf8")) as { runs: Run[]; failures: string[] };
  } finally {
    ip("netns", "del", netns);
    rmSync(dir, { recursive: true, force: true });
  }
}
const HOLD = 9;

/** Two counts by key, added. */
const sum = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (a[k] ?? 0) + (b[k] ?? 0)]),
  );

/** Two processes' reports as one (maxGapMs the longer). */
function merge(a: Report, b: Report): Report {
  return {
    established: a.established + b.established,
    convergedMs: [...a.convergedMs, ...b.convergedMs],
    maxGapMs: Math.max(a.maxGapMs, b.maxGapMs),
    bytesIn: a.bytesIn + b.bytesIn,
    notifications: [...a.notifications, ...b.notifications].slice(0, 20),
    notificationCounts: sum(a.notificationCounts, b.notificationCounts),
    sampleChecked: a.sampleChecked + b.sampleChecked,
    sampleErrors: [...a.sampleErrors, ...b.sampleErrors].slice(0, 10),
    minHeld: Math.min(a.minHeld, b.minHeld),
    maxHeld: Math.max(a.maxHeld, b.maxHeld),
    unexpected: a.unexpected + b.unexpected,
    lowWater: Math.min(a.lowWater, b.lowWater),
    lowWaterAt: a.lowWater <= b.lowWater ? a.lowWaterAt : b.lowWaterAt,
    flaps: a.flaps + b.flaps,
    complete: a.complete + b.complete,
    sessionsUp: sum(a.sessionsUp, b.sessionsUp),
    peersOf: { ...a.peersOf, ...b.peersOf },
    peeringRuns: a.peeringRuns + b.peeringRuns,
  };
}

/** nodes per bulk process: each reads its sockets in turn, and a pass over 5,000 took seconds */
const BULK_NODES = 2500;

/**
 * The simulated nodes: most in bulk processes of at most BULK_NODES each, and 1% (at most 50) in
 * one more, the observers. At N = 15,000 the bulk parse some 15 GB and reach each socket seconds
 * apart, so the silences they see are their own. The observers read promptly: the longest
 * keepalive gap they see is the reflector's.
 */
class Clients {
  private readonly bulk: ClientProcess[] = [];
  private readonly observers: ClientProcess;

  constructor(plan: Plan) {
    const count = Math.min(50, Math.ceil(plan.count / 100));
    const rest = plan.count - count;
    const parts = Math.max(1, Math.ceil(rest / BULK_NODES));
    for (let i = 0, first = plan.first; i < parts; i++) {
      const n = Math.floor((rest * (i + 1)) / parts) - Math.floor((rest * i) / parts);
      // together they connect at the plan's rate
      const connectBurst = Math.max(1, Math.round(plan.connectBurst / parts));
      this.bulk.push(new ClientProcess({ ...plan, first, count: n, connectBurst }));
      first += n;
    }
    this.observers = new ClientProcess({ ...plan, first: plan.first + rest, count });
  }

  private get all(): ClientProcess[] {
    return [...this.bulk, this.observers];
  }

  get progress(): Progress {
    const all = this.all.map((c) => c.progress);
    return {
      established: all.reduce((n, p) => n + p.established, 0),
      converged: all.reduce((n, p) => n + p.converged, 0),
      complete: all.reduce((n, p) => n + p.complete, 0),
    };
  }

  send(m: object): void {
    for (const c of this.all) c.send(m);
  }

  /** Every process's report as one; maxGapMs is the observers', bulkMaxGapMs the others' longest. */
  async report(): Promise<Report & { bulkMaxGapMs: number }> {
    const [watch, ...bulk] = await Promise.all([this.observers, ...this.bulk].map((c) => c.report()));
    const all = bulk.reduce(merge, watch as Report);
    return {
      ...all,
      maxGapMs: (watch as Report).maxGapMs,
      bulkMaxGapMs: Math.max(...bulk.map((r) => r.maxGapMs)),
    };
  }

  /** CPU the processes have used, and of it in the kernel: the simulator's cost, to set beside the reflector's */
  cpu(): { cpuMs: number; systemMs: number } {
    const all = this.all.map((c) => usage(c.proc.pid as number));
    return {
      cpuMs: all.reduce((n, u) => n + u.cpuMs, 0),
      systemMs: all.reduce((n, u) => n + u.systemMs, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }
}

/** Waits for cond, printing a live progress line; returns the ms it took. */
async function until(
  label: string,
  cond: () => boolean,
  timeoutMs: number,
  line: () => string,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    const ms = performance.now() - start;
    process.stderr.write(`\r\x1b[K${label}: ${line()}  ${(ms / 1000).toFixed(1)} s`);
    if (cond()) return ms;
    if (ms > timeoutMs) throw new Error(`${label}: timed out after ${timeoutMs / 1000} s (${line()})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits ms, printing the progress line. */
async function pause(label: string, ms: number, line: () => string): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    process.stderr.write(
      `\r\x1b[K${label}: ${line()}  ${((end - performance.now()) / 1000).toFixed(0)} s left`,
    );
    await new Promise((r) => setTimeout(r, 250));
  }
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;

/**
 * restart: one reflector killed (no NOTIFICATION) and started again. rolling: two reflectors, each
 * node a client of both; one gets SIGTERM and a new process 2 s later, once every node holds
 * every route from both again the other does (a Deployment rollout). both: the two at once.
 */
type RestartScenario = "restart" | "rolling" | "both";
const RESTARTS: readonly string[] = ["restart", "rolling", "both"];

/**
 * How long establishing, and then converging, may take. The slowest that made it in any run was
 * BIRD at calico-mesh-v6 N = 5,000 (195 s); a reflector that needs longer is listed as not
 * converged rather than costing the run a quarter of an hour each time.
 */
const STEP_LIMIT_MS = 300_000;

/** fanout: one source announces this many /32s to the reflector, and every other node receives them */
const FANOUT_ROUTES = 100_000;

interface MeshOptions {
  scenario: "calico-mesh" | "calico-mesh-v6" | "churn" | "soak" | "fanout" | RestartScenario;
  kind: Kind;
  /** nodes; in fanout, the nodes receiving (the source is one more) */
  n: number;
  /** routes per node; in fanout, the source's */
  k: number;
  /** soak: how long the flapping goes on */
  soakMs?: number;
}

/**
 * Soak: the reflector's RSS every 10 s while 10% of the nodes flap. RSS swings with garbage
 * collection, so a window's peak is compared: the last ten minutes' against the ten after a
 * five-minute warm-up (shorter runs: sixths of the run). Stable: it grew by no more than 10%
 * (a fall is garbage collected, not a leak).
 */
async function soak(label: string, pid: number, ms: number, line: () => string) {
  const samples: { minute: number; rssMiB: number }[] = [];
  const start = performance.now();
  const warmUpMs = Math.min(5 * 60_000, ms / 6);
  const windowMs = Math.min(10 * 60_000, ms / 6);
  while (performance.now() - start < ms) {
    await pause(label, Math.min(10_000, ms - (performance.now() - start)), line);
    const minute = Math.round((performance.now() - start) / 6000) / 10;
    samples.push({ minute, rssMiB: Math.round(usage(pid).rssKiB / 102.4) / 10 });
  }
  const peak = (from: number, to: number) =>
    Math.max(
      ...samples.filter((s) => s.minute * 60_000 > from && s.minute * 60_000 <= to).map((s) => s.rssMiB),
    );
  const first = peak(warmUpMs, warmUpMs + windowMs);
  const last = peak(ms - windowMs, ms);
  return {
    minutes: Math.round(ms / 6000) / 10,
    windowMinutes: windowMs / 60_000,
    firstWindowPeakRssMiB: first,
    lastWindowPeakRssMiB: last,
    rssGrowthPercent: Math.round(((last - first) / first) * 1000) / 10,
    rssStable: last <= first * 1.1,
    rssSamples: samples,
  };
}

/** N nodes with k routes each through one reflector: establish, announce, converge (and churn / restart). */
async function mesh({ scenario, kind, n, k, soakMs = 3_600_000 }: MeshOptions): Promise<Run> {
  const label = `${scenario} ${kind} N=${n} k=${k}`;
  const gr = RESTARTS.includes(scenario);
  const v6 = scenario === "calico-mesh-v6";
  const addrs = v6 ? [RR6] : scenario === "rolling" || scenario === "both" ? [RR, RR2] : [RR];
  const fanout = scenario === "fanout";
  // fanout: node 0 is the source; the others each receive its whole table
  const nodes = fanout ? n + 1 : n;
  const targets: Target[] = [];
  for (const a of addrs) targets.push(await startTarget(kind, a, nodes, gr));
  const target = () => targets[0] as Target;
  const idle = usage(target().pid);
  const plan: Plan = {
    targets: addrs,
    port: 179,
    first: 0,
    count: nodes,
    total: nodes,
    k,
    ...(fanout ? { sourceRoutes: k } : {}),
    ...(v6 ? { family: 6 as const } : {}),
    holdTime: HOLD,
    asn: 64512,
    gracefulRestart: gr,
    // a fanout sample holds and checks the whole table: ten of them
    sampleEvery: Math.max(1, Math.floor(n / (fanout ? 10 : 20))),
    connectBurst: 200,
  };
  const clients = new Clients(plan);
  const p = () => clients.progress;
  try {
    const establishMs = await until(
      label,
      () => p().established === nodes,
      STEP_LIMIT_MS,
      () => `established ${p().established}/${nodes}`,
    );
    const established = usage(target().pid);
    const simulatorBefore = clients.cpu();
    clients.send({ type: "announce" });
    await until(
      label,
      () => p().converged === nodes,
      STEP_LIMIT_MS,
      () => `converged ${p().converged}/${nodes}`,
    );
    const converged = usage(target().pid);
    const simulator = clients.cpu();
    let report = await clients.report();
    // From the announcement to convergence: the reflector's CPU and the simulated nodes'
    // (encoding, the wire, decoding); the simulator must cost less, or it is what is measured.
    const extra: Record<string, unknown> = {
      convergeCpuMs: converged.cpuMs - established.cpuMs,
      convergeSystemMs: converged.systemMs - established.systemMs,
      simulatorConvergeCpuMs: simulator.cpuMs - simulatorBefore.cpuMs,
      simulatorConvergeSystemMs: simulator.systemMs - simulatorBefore.systemMs,
    };
    if (scenario === "churn" || scenario === "soak") {
      const flapMs = scenario === "soak" ? soakMs : 60_000;
      const bytesBefore = report.bytesIn;
      clients.send({ type: "flap", share: 0.1, ms: flapMs });
      const line = () => `flapping 10% of ${n}: established ${p().established}/${n}`;
      if (scenario === "soak") Object.assign(extra, await soak(label, target().pid, flapMs, line));
      else await pause(label, flapMs, line);
      extra.settleMs = await until(
        label,
        () => p().complete === n && p().established === n,
        300_000,
        () => `settling ${p().complete}/${n}`,
      );
      report = await clients.report();
      extra.flaps = report.flaps;
      // what the reflector wrote to its clients from the first flap until settled (KEEPALIVEs included)
      extra.churnBytes = report.bytesIn - bytesBefore;
    }
    if (gr) {
      // The clients keep routes only as RFC 4724 lets them (clients.ts); the lowest count any
      // client held during the run (lowestHeldDuringRun), from any reflector, says whether a
      // route was lost.
      const back = () =>
        until(
          label,
          () => p().established === n && p().complete === n,
          300_000,
          () => `re-established ${p().established}/${n}, complete ${p().complete}/${n}`,
        );
      const replace = async (i: number, signal: NodeJS.Signals) => {
        process.stderr.write(`\n${Date.now()}: stopping ${addrs[i]}\n`);
        await (targets[i] as Target).stop(signal);
        process.stderr.write(`\n${Date.now()}: stopped ${addrs[i]}\n`);
        await new Promise((r) => setTimeout(r, 2000));
        targets[i] = await startTarget(kind, addrs[i] as string, n, gr);
        process.stderr.write(`\n${Date.now()}: started ${addrs[i]}\n`);
      };
      // Before the fault, every node holds every route from every reflector (a reflector slow to
      // establish may still be sending when the others have converged).
      await back();
      const t0 = performance.now();
      if (scenario === "restart") {
        await replace(0, "SIGKILL"); // a crash: no NOTIFICATION
        await back();
      } else if (scenario === "rolling") {
        for (const i of targets.keys()) {
          await replace(i, "SIGTERM"); // as Kubernetes stops a pod
          await back();
        }
      } else {
        await Promise.all(targets.map((_, i) => replace(i, "SIGTERM")));
        await back();
      }
      extra.restartMs = Math.round(performance.now() - t0);
      report = await clients.report();
      extra.mostMissing = (n - 1) * k - report.lowWater;
    }
    process.stderr.write("\n");
    const end = usage(target().pid);
    const times = report.convergedMs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return {
      scenario,
      kind,
      n,
      k,
      establishMs: Math.round(establishMs),
      convergence: { p50: pct(times, 50), p99: pct(times, 99), last: times[times.length - 1] ?? 0 },
      cpuMs: end.cpuMs - (gr ? 0 : idle.cpuMs),
      peakRssMiB: Math.round(end.peakRssKiB / 1024),
      memoryPerPeerKiB: Math.round(((established.rssKiB - idle.rssKiB) / n) * 10) / 10,
      bytesSent: report.bytesIn,
      maxGapMs: report.maxGapMs,
      bulkMaxGapMs: report.bulkMaxGapMs,
      tableCheck: {
        sampled: report.sampleChecked + report.sampleErrors.length,
        exact:
          report.sampleErrors.length === 0 &&
          report.unexpected === 0 &&
          report.minHeld === (fanout ? k : (n - 1) * k),
        errors: report.sampleErrors,
        lowestHeldDuringRun: report.lowWater,
        lowestHeldAt: report.lowWaterAt,
      },
      notifications: report.notifications,
      notificationCounts: report.notificationCounts,
      ...extra,
    };
  } finally {
    await clients.stop();
    for (const t of targets) await t.stop();
  }
}

/** ../shared/lab/bench-rr.sh: one BIRD announces N /32s to the reflector, a BIRD and a GoBGP receive them. */
async function fullTable(kind: Kind, n: number): Promise<Run> {
  const lab = resolve(sharedDir(), "lab/bench-rr.sh");
  process.stderr.write(`full-table ${kind} N=${n}: running bench-rr.sh\n`);
  let target: Target | undefined;
  let peak = 0;
  let cpu = 0;
  let runCpu: number | undefined;
  try {
    // bench-rr.sh's "external" reflector: 127.0.5.1 with clients 127.0.5.2-4
    if (kind === "ours") {
      target = await startOurs("127.0.5.1", ["127.0.5.2", "127.0.5.3", "127.0.5.4"]);
      // Just started, ours is in its RFC 4724 §4.1 selection deferral: it sends nothing until
      // every peer is up with its End-of-RIB, or 10 s. bench-rr.sh measures reflection, and its
      // source comes some 8 s after the start: whether its table ended the deferral or the
      // timer did decided the announce time (1.3-4.6 s). The run starts once the deferral is
      // over (with no peer up, its timer ends it: a warning line), as BIRD's reflector has none.
      const t = target;
      const deadline = Date.now() + 30_000;
      while (!/"event":"deferral(Over|TimedOut)"/.test(t.output?.() ?? "")) {
        if (Date.now() > deadline)
          throw new Error("our reflector's selection deferral did not end within 30 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // ours has used CPU to start (module loading, the YAML default, deferral): the run's share is noted apart
    const before = target ? usage(target.pid).cpuMs : 0;
    const env = { ...process.env, RR_ADDR: "127.0.5.1", TIMEOUT: "300" };
    const args = [kind === "ours" ? "external" : kind, String(n)];
    const out = execFileSync(lab, args, {
      encoding: "utf8",
      env,
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
    // "KIND N source_up_ms=.. announce_ms=.. (bird_sink=.. gobgp_sink=..) withdraw_ms=.. (..) rr_peak_rss_kB=.. rr_cpu_ms=.."
    const line = out.split("\n").pop() ?? "";
    const field = (name: string) => {
      const v = new RegExp(`${name}=(\\d+)`).exec(line)?.[1];
      return v === undefined ? undefined : Number(v);
    };
    if (field("announce_ms") === undefined) throw new Error(`bench-rr.sh said: ${line}`);
    if (target) {
      const u = usage(target.pid);
      peak = u.peakRssKiB;
      cpu = u.cpuMs;
      runCpu = u.cpuMs - before;
    } else {
      peak = field("rr_peak_rss_kB") ?? 0;
      cpu = field("rr_cpu_ms") ?? 0;
    }
    return {
      scenario: "full-table",
      kind,
      n,
      k: 1,
      announceMs: field("announce_ms"),
      withdrawMs: field("withdraw_ms"),
      benchRr: line,
      cpuMs: cpu,
      runCpuMs: runCpu,
      peakRssMiB: Math.round(peak / 1024),
    };
  } finally {
    await target?.stop();
  }
}

interface Saved {
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  runs: Run[];
  failures: string[];
  /** RR_NODE_ARGS: node options our reflector ran with, when any */
  nodeArgs?: string;
}

/** The table and chart of one or more saved results. */
function report(name: string, saved: Saved[]): void {
  const runs = saved.flatMap((s) => s.runs);
  const table = ratioTable(runs);
  process.stdout.write(`${table}\n`);
  const header = saved.map((s) => {
    const m = s.machine;
    // results saved before versions were read from stderr lack BIRD's: this machine's, same packages
    const v = Object.entries(s.versions).map(([k, x]) => x || versions()[k] || "unknown");
    const args = s.nodeArgs ? ` Our reflector ran with node ${s.nodeArgs}.` : "";
    return `Measured ${m.date}: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, commit ${m.commit}; ${v.join("; ")}.${args}`;
  });
  writeTable(
    name,
    `${header.join("\n")}\n\nTimes: calico-mesh = the last client's convergence; churn = settling after 60 s of flapping; ` +
      "restart = until every client is back with a whole table (one reflector killed; rolling: two, SIGTERM one after the other; both: two at once); full-table = announce convergence (bench-rr.sh); " +
      "scale = until every peer holds every route.",
    table,
  );
  if (runs.some((r) => r.scenario === "calico-mesh")) chart(name, runs);
  const failures = saved.flatMap((s) => s.failures);
  process.stdout.write(`results: ${RESULTS_DIR}/${name}.json, .md, .svg\n`);
  if (failures.length) {
    process.stdout.write(`failures:\n${failures.join("\n")}\n`);
    process.exitCode = 1;
  }
}

/** Re-renders saved results; several are merged into `out`. */
function render(names: string[], out: string): void {
  const saved = names.map(
    (n) => JSON.parse(readFileSync(resolve(RESULTS_DIR, `${n}.json`), "utf8")) as Saved,
  );
  if (names.length > 1 || names[0] !== out) writeRuns(out, { parts: saved });
  report(out, saved);
}

const USAGE = `usage: node dist-bench/bench/load.js [options]
The load benchmark: simulated Calico nodes against this reflector and against BIRD 2, GoBGP and
FRR in the same run; results in bench/results/ (bench/README.md).
  --short                 the short run (calico-mesh, full-table, scale; N 100,1000; ours and BIRD)
  --scenarios a,b         calico-mesh, calico-mesh-v6, full-table, fanout, churn, scale, restart,
                          rolling, both, soak,
                          assignment (5 reflectors placing 5,000 nodes on etcd; --n sets the nodes)
  --targets a,b           ${KINDS.join(", ")}
  --n 100,1000            simulated nodes per run
  --k 1,4                 routes per node
  --soak-minutes M        minutes of flapping in the soak (60)
  --out NAME              the results file (bench/results/NAME.json and .md)
  --render a,b --out N    merge saved results into one file, measuring nothing
  --help                  this`;

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (e) {
    process.stderr.write(`load: ${(e as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  await run(parsed.values);
}

function parseOptions() {
  return parseArgs({
    options: {
      short: { type: "boolean" },
      scenarios: { type: "string" },
      targets: { type: "string" },
      n: { type: "string" },
      k: { type: "string" },
      // soak: minutes of flapping (an hour unless told)
      "soak-minutes": { type: "string" },
      out: { type: "string" },
      // re-render saved results (several are merged): --render load-part1,load-part2 --out load
      render: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

async function run(values: ReturnType<typeof parseOptions>["values"]): Promise<void> {
  const list = (v: string | undefined, d: string) => (v ?? d).split(",").filter(Boolean);
  if (values.render) {
    render(list(values.render, ""), values.out ?? "load");
    return;
  }
  const short = values.short === true;
  const scenarios = list(
    values.scenarios,
    short
      ? "calico-mesh,full-table,scale"
      : "calico-mesh,calico-mesh-v6,full-table,fanout,churn,scale,restart,rolling,both,assignment",
  );
  const targets = list(values.targets, short ? "ours,bird" : KINDS.join(",")) as Kind[];
  const ns = list(values.n, short ? "100,1000" : "100,1000,5000,15000").map(Number);
  const ks = list(values.k, short ? "1" : "1,4").map(Number);
  // the machine and commit as the run starts: the build it measures is the one made then
  const measured = machine();
  const runs: Run[] = [];
  const failures: string[] = [];
  /** Runs one measurement; false when it failed (recorded with the failures). */
  const attempt = async (what: string, f: () => Promise<Run>): Promise<boolean> => {
    try {
      const r = await f();
      runs.push(r);
      process.stderr.write(`${what}: ${JSON.stringify(r)}\n`);
      return true;
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
      process.stderr.write(`\n${what}: FAILED ${(e as Error).message}\n`);
      return false;
    }
  };
  for (const scenario of scenarios) {
    if (scenario === "calico-mesh-v6" && !process.env.RR_BENCH_INSIDE) {
      // IPv6 sessions need an address per node: the run goes on in a namespace of its own
      const inside = inNamespace(scenario, {
        n: ns.filter((n) => n <= 5000),
        k: ks,
        targets,
      });
      runs.push(...inside.runs);
      failures.push(...inside.failures);
    } else if (scenario === "calico-mesh" || scenario === "calico-mesh-v6") {
      // A reflector that did not converge at some N and k is not run at larger ones (each would
      // spend the whole time limit); that is recorded with the failures.
      const gaveUp = new Map<Kind, string>();
      for (const n of ns) {
        for (const k of ks) {
          if (n * k > MAX_ROUTES) continue;
          for (const kind of targets) {
            // The lab scripts take the client list in one environment variable: 128 KiB at most.
            if (kind !== "ours" && n > 5000) continue;
            const what = `${scenario} ${kind} N=${n} k=${k}`;
            const failed = gaveUp.get(kind);
            if (failed) {
              failures.push(`${what}: not run, as ${failed} did not converge`);
              continue;
            }
            if (!(await attempt(what, () => mesh({ scenario, kind, n, k }))))
              gaveUp.set(kind, `N=${n} k=${k}`);
          }
        }
      }
    } else if (scenario === "churn") {
      for (const kind of targets)
        await attempt(`churn ${kind}`, () => mesh({ scenario, kind, n: 1000, k: 1 }));
    } else if (scenario === "soak") {
      const soakMs = Number(values["soak-minutes"] ?? 60) * 60_000;
      await attempt("soak ours", () => mesh({ scenario, kind: "ours", n: 1000, k: 1, soakMs }));
    } else if (RESTARTS.includes(scenario)) {
      for (const kind of targets)
        await attempt(`${scenario} ${kind}`, () =>
          mesh({ scenario: scenario as RestartScenario, kind, n: 1000, k: 1 }),
        );
    } else if (scenario === "fanout") {
      for (const kind of targets)
        await attempt(`fanout ${kind}`, () => mesh({ scenario, kind, n: 1000, k: FANOUT_ROUTES }));
    } else if (scenario === "full-table") {
      for (const kind of targets) await attempt(`full-table ${kind}`, () => fullTable(kind, 100_000));
    } else if (scenario === "scale") {
      await attempt("scale ours", () => scale(short ? 20_000 : 100_000));
    } else if (scenario === "assignment") {
      // its own results file: there is no other route reflector to run beside it
      try {
        const r = await assignment(values.n ? Number(values.n.split(",")[0]) : 5000);
        writeResult("assignment", { machine: measured, versions: versions(), run: r });
        process.stderr.write(`assignment: ${JSON.stringify(r)}\n`);
      } catch (e) {
        failures.push(`assignment: ${(e as Error).message}`);
      }
    }
  }
  // in a namespace for the run that started it: what was measured goes back to it
  if (process.env.RR_BENCH_INSIDE) {
    writeFileSync(process.env.RR_BENCH_INSIDE, JSON.stringify({ runs, failures }));
    return;
  }
  const name = values.out ?? (short ? "load-short" : "load");
  const nodeArgs = process.env.RR_NODE_ARGS;
  const result: Saved = {
    machine: measured,
    versions: versions(),
    runs,
    failures,
    ...(nodeArgs ? { nodeArgs } : {}),
  };
  // assignment alone writes only its own file
  if (runs.length === 0 && scenarios.every((s) => s === "assignment")) {
    for (const f of failures) process.stderr.write(`${f}\n`);
    return;
  }
  writeRuns(name, result);
  report(name, [result]);
}

await main();
