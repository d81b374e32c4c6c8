// Differential test of route selection and export against BIRD 2 and FRR as reflectors: generated
// path sets (test/helpers/differential.ts), each prefix one case, announced by ExaBGP speakers to
// the three reflectors at once, in three phases (the early paths, then the late ones, then some
// withdrawn). An ExaBGP client of each reflector records what it is sent; every case is compared
// with the RFC reference. Ours must agree on every case; BIRD or FRR may depart only where a
// departure below names the RFC section it departs from.
//
//   DIFF_CASES=N (default 300) and DIFF_SEED=S (default 1) choose the cases, DIFF_ONLY=i,j replays
//   some of them; npm run differential runs 3,000 with a seed from the clock.
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Listener } from "../../src/fsm/index.js";
import { Reflector } from "../../src/reflector/reflector.js";
import {
  AS,
  birdConfig,
  type Case,
  type CasePath,
  CLUSTER_ID,
  clusterLooped,
  describeCase,
  ExaBgp,
  exabgpConfig,
  exaCommand,
  expected,
  frrConfig,
  generate,
  type Held,
  type Kind,
  looped,
  READER,
  REFLECTORS,
  ROUTER_ID,
  reference,
  roleOf,
  SOURCES,
} from "../helpers/differential.js";
import { BASE, killOnExit, startBird, waitFor, workdir } from "../helpers/lab.js";

const COUNT = Number(process.env.DIFF_CASES ?? 300);
const SEED = Number(process.env.DIFF_SEED ?? 1);
/** DIFF_ONLY=i,j: run only these cases of the seed (to replay a disagreement) */
const ONLY = process.env.DIFF_ONLY?.split(",").map(Number);
const KINDS: readonly Kind[] = ["ours", "bird", "frr"];

/**
 * Where BIRD or FRR depart from the RFCs in a way their configuration cannot change: the RFC
 * section, and what the implementation sends under the departure given the paths of a case and
 * what the RFC gives ("n/a" when the departure does not touch this case).
 */
interface Departure {
  kind: Kind;
  name: string;
  rfc: string;
  sends(paths: readonly CasePath[], want: Held | undefined): Held | undefined | "n/a";
}

const DEPARTURES: readonly Departure[] = [
  {
    // BIRD looks for its cluster ID only in routes from its clients (bgp_cluster_list_loopy
    // needs rr_client), so a non-client's looped route is a candidate; chosen, it is not
    // exported to clients, and the prefix is withdrawn from them.
    kind: "bird",
    name: "CLUSTER_LIST loops not detected on routes from non-clients",
    rfc: "RFC 4456 §8",
    sends(paths) {
      const missed = (p: CasePath) => roleOf(p) === "non-client" && clusterLooped(p);
      if (!paths.some(missed)) return "n/a";
      const { best } = reference(paths, (p) => looped(p) && !missed(p));
      return best && !missed(best) ? expected(best) : undefined;
    },
  },
  {
    // A route that came without MULTI_EXIT_DISC is reflected with MED 0. A reflector passes the
    // attributes on unchanged but for ORIGINATOR_ID and CLUSTER_LIST; a missing MED counts as
    // the lowest (0) in step c) downstream, so no choice changes.
    kind: "frr",
    name: "MED 0 added where none was received",
    rfc: "RFC 4456 §10, RFC 4271 §9.1.2.2 c)",
    sends: (_, want) => (want && want.med === undefined ? { ...want, med: 0 } : "n/a"),
  },
];

/** Two routes as readers hold them, the same whatever the order of their attributes. */
const same = (a: Held | undefined, b: Held | undefined) =>
  JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
const sorted = (h: Held | undefined) =>
  h && Object.fromEntries(Object.entries(h).sort(([x], [y]) => x.localeCompare(y)));

const stopping: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const stop of stopping.reverse()) await stop();
});

function startFrr(dir: string): ChildProcess {
  writeFileSync(join(dir, "frr.conf"), frrConfig());
  const log = openSync(join(dir, "bgpd.log"), "a");
  // bgpd alone, as ../shared/lab/start-frr-rr.sh runs it: no zebra (-Z), no kernel routes (-n)
  return killOnExit(
    spawn(
      "/usr/lib/frr/bgpd",
      [
        "-S",
        "-Z",
        "-n",
        "-l",
        REFLECTORS.frr,
        "-p",
        "179",
        "-P",
        "0",
        "-f",
        join(dir, "frr.conf"),
        "-i",
        join(dir, "bgpd.pid"),
        "-z",
        join(dir, "zserv.api"),
        "--vty_socket",
        dir,
      ],
      { stdio: ["ignore", log, log] },
    ),
  );
}

/**
 * The paths of a case in a phase: the early ones, then all, then all but the withdrawn one, then
 * the same again, every source sending its table once more unchanged (a soft reset out).
 */
function pathsIn(c: Case, phase: number): CasePath[] {
  if (phase === 0) return c.paths.filter((p) => !p.late);
  if (phase === 1) return c.paths;
  return c.paths.filter((p) => p.source !== c.withdraw);
}

/** Waits until what the readers received stops changing and each holds a route for every case that has one. */
async function settle(exa: ExaBgp, dir: string, cases: readonly Case[], phase: number): Promise<void> {
  const want = cases.filter((c) => reference(pathsIn(c, phase)).best).map((c) => c.prefix);
  const size = () => {
    try {
      return statSync(join(dir, "received.jsonl")).size;
    } catch {
      return 0;
    }
  };
  let last = -1;
  let since = Date.now();
  const missing = () => {
    const held = exa.held();
    return KINDS.flatMap((k) => want.filter((p) => !held[k].has(p)).map((p) => `${k} ${p}`));
  };
  await waitFor(
    () => {
      const s = size();
      if (s !== last) {
        last = s;
        since = Date.now();
        return false;
      }
      // Quiet for 2 s with every route there, or for 10 s (a departure may leave some out).
      if (Date.now() - since < 2000) return false;
      const held = exa.held();
      return Date.now() - since > 10_000 || KINDS.every((k) => want.every((p) => held[k].has(p)));
    },
    120_000,
    `the readers to settle in phase ${phase}`,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; missing: ${missing().slice(0, 20).join(", ")}`);
  });
}

const show = (h: Held | undefined) => (h ? JSON.stringify(h) : "nothing");

describe(`differential: ${COUNT} cases (seed ${SEED}) through ours, BIRD 2 and FRR`, () => {
  it("every reflector sends what RFC 4271 §9.1.2 and RFC 4456 choose, through announcements, late arrivals and withdrawals", async () => {
    const cases = generate(SEED, COUNT).filter((_, i) => !ONLY || ONLY.includes(i));
    const dir = workdir("differential");

    const rr = new Reflector({ routerId: ROUTER_ID, localAs: AS, clusterId: CLUSTER_ID });
    const listener = new Listener((addr) => rr.peer(addr)?.session);
    await listener.listen(179, REFLECTORS.ours);
    stopping.push(async () => {
      rr.stop();
      await listener.close();
    });
    for (const s of SOURCES) {
      rr.addPeer({
        ...BASE,
        peerAddress: s.addr,
        peerAs: s.asn,
        localAddress: REFLECTORS.ours,
        passive: true,
        routerId: ROUTER_ID,
        clusterId: CLUSTER_ID,
        role: s.role,
      });
    }
    rr.addPeer({
      ...BASE,
      routerId: ROUTER_ID,
      clusterId: CLUSTER_ID,
      peerAddress: READER,
      localAddress: REFLECTORS.ours,
      passive: true,
    });

    const bird = await startBird("differential-bird", {
      addr: REFLECTORS.bird,
      peer: { addr: READER, port: 179, asn: AS },
      configText: birdConfig,
    });
    stopping.push(() => bird.stop());
    const frr = startFrr(dir);
    stopping.push(() => void frr.kill("SIGTERM"));

    const exa = new ExaBgp(dir);
    exa.start(exabgpConfig(dir, cases));
    stopping.push(() => exa.stop());

    const disagreements: string[] = [];
    const departures = new Map<string, number>();
    let before: Record<Kind, number> = { ours: 0, bird: 0, frr: 0 };
    let updatesIn = 0;
    const fromSources = () => SOURCES.reduce((n, s) => n + (rr.peer(s.addr)?.updatesIn ?? 0), 0);
    for (const phase of [0, 1, 2, 3]) {
      if (phase === 1)
        exa.send(
          cases.flatMap((c) => c.paths.filter((p) => p.late).map((p) => exaCommand("announce", c, p))),
        );
      if (phase === 2) {
        exa.send(
          cases.flatMap((c) => {
            const p = c.paths.find((x) => x.source === c.withdraw);
            return p ? [exaCommand("withdraw", c, p)] : [];
          }),
        );
      }
      if (phase === 3) {
        // RFC 4271 §9.2 leaves an unchanged route unsent; a reflector that re-sends each
        // re-announcement fans every peer's soft reset out to all its clients.
        before = exa.updateCounts();
        updatesIn = fromSources();
        // every source sends its whole table again, as a "clear bgp soft out" does
        exa.send(["flush adj-rib out"]);
      }
      await settle(exa, dir, cases, phase);
      const held = exa.held();
      for (const c of cases) {
        const { best, step } = reference(pathsIn(c, phase));
        const want = best && expected(best);
        for (const k of KINDS) {
          const got = held[k].get(c.prefix);
          if (same(got, want)) continue;
          const d = DEPARTURES.find((x) => {
            const sends = x.kind === k ? x.sends(pathsIn(c, phase), want) : "n/a";
            return sends !== "n/a" && same(got, sends);
          });
          if (d) {
            departures.set(
              `${k}: ${d.name} (${d.rfc})`,
              (departures.get(`${k}: ${d.name} (${d.rfc})`) ?? 0) + 1,
            );
            continue;
          }
          disagreements.push(
            `phase ${phase}, ${k} sent ${show(got)}; the RFC (${step}) gives ${best ? `${best.source}: ${show(want)}` : "nothing"}\n${describeCase(c)}`,
          );
        }
      }
    }
    // the re-announcements reached us, and we sent nothing for them
    const after = exa.updateCounts();
    const resent = Object.fromEntries(KINDS.map((k) => [k, after[k] - before[k]]));
    console.log(
      `unchanged re-announcements: ${fromSources() - updatesIn} UPDATEs in at ours; UPDATEs out to the reader: ${KINDS.map((k) => `${k} ${resent[k]}`).join(", ")}`,
    );
    expect(fromSources() - updatesIn).toBeGreaterThan(0);
    expect(resent.ours).toBe(0);
    if (departures.size)
      console.log(
        `departures from the RFC, as named: ${[...departures].map(([k, n]) => `${k} x${n}`).join("; ")}`,
      );
    expect(
      disagreements.slice(0, 20).join("\n\n"),
      `${disagreements.length} disagreements (seed ${SEED})`,
    ).toBe("");
  }, 600_000);
});
