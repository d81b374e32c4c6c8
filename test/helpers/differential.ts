// Differential testing of route selection and export: generated path sets, announced by ExaBGP
// speakers to our reflector, BIRD 2 and FRR at once, read back by an ExaBGP client of each, and
// compared with the RFC. The reference below is written from RFC 4271 §9.1.2.2 and RFC 4456 §9
// directly, step by step, and shares no code with src/rib/decision.ts.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { killOnExit } from "./lab.js";

export const AS = 64512;
export const ROUTER_ID = "203.0.113.254";
export const CLUSTER_ID = "203.0.113.250";
export const READER = "127.0.41.30";

export type Kind = "ours" | "bird" | "frr";
export const REFLECTORS: Record<Kind, string> = { ours: "127.0.41.1", bird: "127.0.41.2", frr: "127.0.41.3" };

export interface Source {
  name: string;
  addr: string;
  /** its BGP identifier: not in the order of the addresses, so the two tie-breaks differ */
  routerId: string;
  asn: number;
  role: "client" | "non-client" | "ebgp";
  nextHop: string;
}

const source = (name: string, last: number, id: number, asn: number, role: Source["role"]): Source => ({
  name,
  addr: `127.0.41.${last}`,
  routerId: `100.64.0.${id}`,
  asn,
  role,
  nextHop: `203.0.113.${last}`,
});

export const SOURCES: readonly Source[] = [
  source("c1", 11, 14, AS, "client"),
  source("c2", 12, 13, AS, "client"),
  source("c3", 13, 12, AS, "client"),
  source("c4", 14, 11, AS, "client"),
  source("n1", 15, 15, AS, "non-client"),
  // two external peers in one neighbouring AS, so their MEDs compare
  source("e1", 21, 22, 65001, "ebgp"),
  source("e2", 22, 21, 65001, "ebgp"),
  source("e3", 23, 23, 65002, "ebgp"),
];
const byName = new Map(SOURCES.map((s) => [s.name, s]));

export interface CasePath {
  source: string;
  /** iBGP only */
  localPref?: number;
  /** AS_SEQUENCE, then an AS_SET when not empty (what ExaBGP can send) */
  seq: number[];
  set: number[];
  origin: "igp" | "egp" | "incomplete";
  med?: number;
  /** iBGP only: as if reflected once already */
  originatorId?: string;
  clusterList?: string[];
  /** announced after the others have settled (arrival order) */
  late: boolean;
}

export interface Case {
  prefix: string;
  paths: CasePath[];
  /** the source whose path is withdrawn in the last phase */
  withdraw?: string;
}

const opt = <T>(arb: fc.Arbitrary<T>, freq = 1) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: freq }, { arbitrary: arb, weight: 1 });

/** Values from small sets, so that paths tie often and the later steps decide. */
function pathArb(s: Source): fc.Arbitrary<CasePath> {
  const ibgp = s.role !== "ebgp";
  const asns = fc.array(fc.constantFrom(65001, 65002, 65003), { maxLength: 2 });
  return fc
    .record({
      localPref: ibgp ? opt(fc.constantFrom(50, 100, 200), 4) : fc.constant(undefined),
      seq: ibgp
        ? fc.oneof(fc.constant([] as number[]), asns)
        : // an external peer's AS comes first (RFC 4271 §6.3); sometimes our AS later: a loop
          fc
            .tuple(asns, fc.integer({ min: 0, max: 9 }))
            .map(([rest, loop]) => [s.asn, ...(loop === 0 ? [AS] : []), ...rest]),
      set: fc.oneof(
        { arbitrary: fc.constant([] as number[]), weight: 5 },
        fc.constant<number[]>([65004, 65005]),
      ),
      origin: fc.constantFrom("igp", "igp", "egp", "incomplete") as fc.Arbitrary<CasePath["origin"]>,
      med: opt(fc.constantFrom(0, 10, 20), 2),
      originatorId: ibgp
        ? opt(fc.constantFrom("100.64.0.11", "100.64.0.12", ROUTER_ID), 3)
        : fc.constant(undefined),
      clusterList: ibgp
        ? opt(
            fc.constantFrom<string[]>(
              ["100.64.1.1"],
              ["100.64.1.1", "100.64.1.2"],
              ["100.64.1.2"],
              [CLUSTER_ID],
            ),
            3,
          )
        : fc.constant(undefined),
      late: fc.boolean(),
    })
    .map((r) => {
      const p: CasePath = { source: s.name, seq: r.seq, set: r.set, origin: r.origin, late: r.late };
      if (r.localPref !== undefined) p.localPref = r.localPref;
      if (r.med !== undefined) p.med = r.med;
      if (r.originatorId !== undefined) p.originatorId = r.originatorId;
      if (r.clusterList !== undefined) p.clusterList = r.clusterList;
      return p;
    });
}

export function caseArb(): fc.Arbitrary<Omit<Case, "prefix">> {
  return fc
    .shuffledSubarray([...SOURCES], { minLength: 1, maxLength: 4 })
    .chain((sources) =>
      fc.tuple(fc.tuple(...sources.map(pathArb)), fc.option(fc.constantFrom(...sources.map((s) => s.name)))),
    )
    .map(([paths, withdraw]) => (withdraw ? { paths, withdraw } : { paths }));
}

/** `count` cases from `seed`: the same seed gives the same cases. */
export function generate(seed: number, count: number): Case[] {
  return fc
    .sample(caseArb(), { seed, numRuns: count })
    .map((c, i) => ({ ...c, prefix: `198.18.${i >> 8}.${i & 255}/32` }));
}

// ---- the reference: RFC 4271 §9.1.2.2 with RFC 4456 §9, each step a filter over the set ----

const ip = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);

/** RFC 4271 §9.1.2: our AS in the AS_PATH; RFC 4456 §8: our cluster ID or router ID. */
export function looped(p: CasePath): boolean {
  return asLooped(p) || clusterLooped(p) || p.originatorId === ROUTER_ID;
}
export const asLooped = (p: CasePath) => p.seq.includes(AS) || p.set.includes(AS);
export const clusterLooped = (p: CasePath) => p.clusterList?.includes(CLUSTER_ID) === true;
export const roleOf = (p: CasePath) => byName.get(p.source)!.role;

/**
 * The path the RFCs choose among these, and the step that chose it. `loop`: which paths are
 * loops (RFC 4271 §9.1.2, RFC 4456 §8 unless an implementation's departure says otherwise).
 */
export function reference(
  paths: readonly CasePath[],
  loop: (p: CasePath) => boolean = looped,
): { best: CasePath | undefined; step: string } {
  let left = paths.filter((p) => !loop(p));
  let step = left.length ? "only" : "none";
  const keep = (name: string, better: (p: CasePath) => number) => {
    if (left.length < 2) return;
    const best = Math.min(...left.map(better));
    const kept = left.filter((p) => better(p) === best);
    if (kept.length < left.length) step = name;
    left = kept;
  };
  const src = (p: CasePath) => byName.get(p.source)!;
  // a) degree of preference: LOCAL_PREF, 100 for external routes and where it is missing
  keep("local-pref", (p) => -(p.localPref ?? 100));
  // b) AS_PATH length: an AS_SET counts as one
  keep("as-path", (p) => p.seq.length + (p.set.length ? 1 : 0));
  // c) ORIGIN
  keep("origin", (p) => ["igp", "egp", "incomplete"].indexOf(p.origin));
  // d) MED, between routes from the same neighbouring AS only (missing: 0)
  if (left.length > 1) {
    const neighbour = (p: CasePath) => p.seq[0] ?? 0;
    const lowest = new Map<number, number>();
    for (const p of left)
      lowest.set(neighbour(p), Math.min(lowest.get(neighbour(p)) ?? Infinity, p.med ?? 0));
    const kept = left.filter((p) => (p.med ?? 0) === lowest.get(neighbour(p)));
    if (kept.length < left.length) step = "med";
    left = kept;
  }
  // e) external over internal (the IGP cost step does not apply: next hops are not resolved)
  keep("ebgp", (p) => (src(p).role === "ebgp" ? 0 : 1));
  // f) lowest BGP identifier, the ORIGINATOR_ID where there is one (RFC 4456 §9)
  keep("router-id", (p) => ip(p.originatorId ?? src(p).routerId));
  // RFC 4456 §9, between f) and g): the shorter CLUSTER_LIST
  keep("cluster-list", (p) => p.clusterList?.length ?? 0);
  // g) lowest peer address
  keep("peer-address", (p) => ip(src(p).addr));
  return { best: left[0], step };
}

/** A route as a reader holds it, normalised for comparison. */
export interface Held {
  nextHop: string;
  asPath: string;
  origin: string;
  localPref?: number;
  med?: number;
  originatorId?: string;
  clusterList?: string[];
}

/** What a client of the reflector holds for a path: RFC 4456 §8 reflection, RFC 4271 §5.1.5 LOCAL_PREF. */
export function expected(p: CasePath): Held {
  const s = byName.get(p.source)!;
  const ibgp = s.role !== "ebgp";
  return {
    nextHop: s.nextHop,
    asPath: asPathText(p.seq, p.set),
    origin: p.origin,
    localPref: p.localPref ?? 100,
    ...(p.med !== undefined ? { med: p.med } : {}),
    ...(ibgp
      ? { originatorId: p.originatorId ?? s.routerId, clusterList: [CLUSTER_ID, ...(p.clusterList ?? [])] }
      : {}),
  };
}

const asPathText = (seq: readonly number[], set: readonly number[]) =>
  [...seq.map(String), ...(set.length ? [`{${[...set].sort((a, b) => a - b).join(",")}}`] : [])].join(" ");

/** Describes a case for a failure message: every path with its source and attributes. */
export function describeCase(c: Case): string {
  const line = (p: CasePath) => {
    const s = byName.get(p.source)!;
    return `    ${p.source} (${s.role}, AS ${s.asn}, id ${s.routerId}, ${s.addr}${p.late ? ", late" : ""}): ${exaAttributes(p)}`;
  };
  return [`  ${c.prefix}${c.withdraw ? ` (${c.withdraw} withdrawn last)` : ""}`, ...c.paths.map(line)].join(
    "\n",
  );
}

// ---- ExaBGP: the sources and the readers, one process ----

/** The ExaBGP attribute text of a path (static routes and API commands share it). */
export function exaAttributes(p: CasePath): string {
  const s = byName.get(p.source)!;
  const set = p.set.length ? ` ( ${p.set.join(" ")} )` : "";
  return [
    `next-hop ${s.nextHop}`,
    `origin ${p.origin}`,
    `as-path [ ${p.seq.join(" ")}${set} ]`,
    p.localPref !== undefined ? `local-preference ${p.localPref}` : "",
    p.med !== undefined ? `med ${p.med}` : "",
    p.originatorId ? `originator-id ${p.originatorId}` : "",
    p.clusterList ? `cluster-list [ ${p.clusterList.join(" ")} ]` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/** One ExaBGP config: each source and the reader towards each reflector; early paths as static routes. */
export function exabgpConfig(dir: string, cases: readonly Case[]): string {
  const blocks: string[] = [
    `process feeder { run ${dir}/feeder.sh; encoder text; }`,
    `process recv { run ${dir}/recv.sh; encoder json; }`,
  ];
  const neighbour = (rr: string, addr: string, id: string, asn: number, body: string) =>
    `neighbor ${rr} {
  router-id ${id};
  local-address ${addr};
  local-as ${asn};
  peer-as ${AS};
  hold-time 30;
  family { ipv4 unicast; }
${body}}`;
  for (const rr of Object.values(REFLECTORS)) {
    for (const s of SOURCES) {
      const routes = cases.flatMap((c) =>
        c.paths
          .filter((p) => p.source === s.name && !p.late)
          .map((p) => `    route ${c.prefix} ${exaAttributes(p)};`),
      );
      const statics = routes.length ? `  static {\n${routes.join("\n")}\n  }\n` : "";
      blocks.push(neighbour(rr, s.addr, s.routerId, s.asn, `${statics}  api { processes [ feeder ]; }\n`));
    }
    blocks.push(
      neighbour(
        rr,
        READER,
        "100.64.0.30",
        AS,
        "  api { processes [ recv ]; receive { parsed; update; } neighbor-changes; }\n",
      ),
    );
  }
  return `${blocks.join("\n")}\n`;
}

/** The API command that announces or withdraws a source's path towards every reflector. */
export function exaCommand(action: "announce" | "withdraw", c: Case, p: CasePath): string {
  const s = byName.get(p.source)!;
  const to = Object.values(REFLECTORS)
    .map((rr) => `neighbor ${rr} local-ip ${s.addr}`)
    .join(" , ");
  const attrs = action === "announce" ? exaAttributes(p) : `next-hop ${s.nextHop}`;
  return `${to} ${action} route ${c.prefix} ${attrs}`;
}

const KIND_OF = new Map(Object.entries(REFLECTORS).map(([k, a]) => [a, k as Kind]));

export class ExaBgp {
  private proc: ChildProcess | undefined;
  private fifo: number | undefined;
  constructor(readonly dir: string) {}

  start(config: string): void {
    writeFileSync(join(this.dir, "exabgp.conf"), config);
    // Helpers as in ../shared/lab/start-exabgp.sh: a FIFO for API lines, a JSONL file of what comes in.
    writeFileSync(
      join(this.dir, "feeder.sh"),
      `#!/bin/bash\nexec 3<>"${this.dir}/cmd.fifo"\nwhile IFS= read -r line <&3; do printf '%s\\n' "$line" || exit 0; done\n`,
      { mode: 0o755 },
    );
    writeFileSync(
      join(this.dir, "recv.sh"),
      `#!/bin/bash\nwhile IFS= read -r line; do printf '%s\\n' "$line" >>"${this.dir}/received.jsonl"; done\n`,
      { mode: 0o755 },
    );
    spawnSyncOk("mkfifo", [join(this.dir, "cmd.fifo")]);
    const log = openSync(join(this.dir, "exabgp.log"), "a");
    this.proc = killOnExit(
      spawn("exabgp", [join(this.dir, "exabgp.conf")], {
        env: {
          ...process.env,
          "exabgp.daemon.daemonize": "false",
          "exabgp.daemon.drop": "false",
          "exabgp.daemon.user": "root",
          "exabgp.tcp.bind": READER,
          "exabgp.tcp.port": "179",
          "exabgp.api.cli": "false",
          "exabgp.api.ack": "false",
          "exabgp.log.destination": "stdout",
          "exabgp.log.level": "WARNING",
        },
        stdio: ["ignore", log, log],
      }),
    );
  }

  /** Sends API lines (through the FIFO the feeder reads). */
  send(lines: readonly string[]): void {
    this.fifo ??= openSync(join(this.dir, "cmd.fifo"), "w");
    writeFileSync(this.fifo, lines.map((l) => `${l}\n`).join(""));
  }

  /** How many UPDATEs the reader has had from each reflector. */
  updateCounts(): Record<Kind, number> {
    const out: Record<Kind, number> = { ours: 0, bird: 0, frr: 0 };
    for (const m of this.messages()) {
      const kind = KIND_OF.get(m.neighbor?.address?.peer ?? "");
      if (kind && m.type === "update" && m.neighbor.message?.update) out[kind]++;
    }
    return out;
  }

  /** The reader's messages so far (a line being written is left for the next call). */
  private messages(): ExaMessage[] {
    let text = "";
    try {
      text = readFileSync(join(this.dir, "received.jsonl"), "utf8");
    } catch {
      return [];
    }
    const out: ExaMessage[] = [];
    for (const line of text.split("\n")) {
      try {
        if (line) out.push(JSON.parse(line) as ExaMessage);
      } catch {
        // the last line, half written
      }
    }
    return out;
  }

  /** What the reader holds from each reflector: the last state per prefix, replayed in order. */
  held(): Record<Kind, Map<string, Held>> {
    const out: Record<Kind, Map<string, Held>> = { ours: new Map(), bird: new Map(), frr: new Map() };
    for (const m of this.messages()) {
      const kind = KIND_OF.get(m.neighbor?.address?.peer ?? "");
      if (!kind) continue;
      const table = out[kind];
      if (m.type === "state" && m.neighbor.state === "down") table.clear();
      const u = m.type === "update" ? m.neighbor.message?.update : undefined;
      if (!u) continue;
      for (const w of u.withdraw?.["ipv4 unicast"] ?? []) table.delete(w.nlri);
      const a = u.attribute ?? {};
      for (const [nh, nlri] of Object.entries(u.announce?.["ipv4 unicast"] ?? {})) {
        for (const n of nlri) table.set(n.nlri, heldOf(nh, a));
      }
    }
    return out;
  }

  stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
    });
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

interface ExaMessage {
  type: string;
  neighbor: {
    address?: { local: string; peer: string };
    state?: string;
    message?: {
      update?: {
        attribute?: Record<string, unknown>;
        announce?: Record<string, Record<string, { nlri: string }[]>>;
        withdraw?: Record<string, { nlri: string }[]>;
      };
    };
  };
}

/** ExaBGP's JSON attributes as a Held route (it gives an AS_SET as "as-set"). */
function heldOf(nextHop: string, a: Record<string, unknown>): Held {
  const seq = (a["as-path"] as number[] | undefined) ?? [];
  const set = (a["as-set"] as number[] | undefined) ?? [];
  const h: Held = { nextHop, asPath: asPathText(seq, set), origin: String(a.origin) };
  if (a["local-preference"] !== undefined) h.localPref = a["local-preference"] as number;
  if (a.med !== undefined) h.med = a.med as number;
  if (a["originator-id"] !== undefined) h.originatorId = a["originator-id"] as string;
  if (a["cluster-list"] !== undefined) h.clusterList = a["cluster-list"] as string[];
  return h;
}

function spawnSyncOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr?.toString()}`);
}

// ---- the other two reflectors ----

/** BIRD 2 as the reflector, with deterministic MED (the RFC's elimination, not pairwise). */
export function birdConfig(dir: string): string {
  const rr = REFLECTORS.bird;
  const peer = (name: string, addr: string, asn: number, client: boolean) =>
    `protocol bgp ${name} from rr_peer {
  neighbor ${addr} as ${asn};
${asn !== AS ? "  multihop; # the next hops of the tests are carried, not on a connected network" : ""}
${client ? `  rr client; rr cluster id ${CLUSTER_ID};` : ""}
}`;
  return `log "${dir}/bird.log" all;
router id ${ROUTER_ID};
protocol device { scan time 60; }
template bgp rr_peer {
  local ${rr} port 179 as ${AS};
  strict bind yes;
  passive on;
  hold time 30;
  deterministic med on;
  ipv4 { import all; export all; };
}
${SOURCES.map((s) => peer(s.name, s.addr, s.asn, s.role === "client")).join("\n")}
${peer("reader", READER, AS, true)}
`;
}

/** FRR bgpd as the reflector: deterministic MED, and the router ID rather than the oldest route between external paths (RFC 4271 §9.1.2.2 f). */
export function frrConfig(): string {
  const rr = REFLECTORS.frr;
  const all = [
    ...SOURCES.map((s) => ({ addr: s.addr, asn: s.asn, client: s.role === "client" })),
    { addr: READER, asn: AS, client: true },
  ];
  return `frr defaults traditional
hostname frr-differential
log stdout informational
router bgp ${AS}
 bgp router-id ${ROUTER_ID}
 bgp cluster-id ${CLUSTER_ID}
 no bgp default ipv4-unicast
 no bgp network import-check
 no bgp ebgp-requires-policy
 bgp deterministic-med
 bgp bestpath compare-routerid
${all
  .map(
    (p) => ` neighbor ${p.addr} remote-as ${p.asn}
 neighbor ${p.addr} update-source ${rr}
 neighbor ${p.addr} passive
 neighbor ${p.addr} timers 10 30${p.asn !== AS ? `\n neighbor ${p.addr} disable-connected-check` : ""}`,
  )
  .join("\n")}
 !
 address-family ipv4 unicast
${all.map((p) => `  neighbor ${p.addr} activate${p.client ? `\n  neighbor ${p.addr} route-reflector-client` : ""}`).join("\n")}
 exit-address-family
exit
`;
}
