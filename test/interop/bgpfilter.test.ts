// BGPFilter against the reference: BIRD running what calico/node runs. For each of Calico's own
// BGPFilter test cases (test/fixtures/calico-bgpfilter), a BIRD 2 reflector is configured as confd
// configures a reflector node (the case's functions, rendered by the port of confd's renderer,
// called from each peering's import and export filter), and our reflector is given the same
// BGPFilters and BGPPeers on a file datastore. One BIRD source sends both the same routes (every
// combination of prefix, communities, AS path and LOCAL_PREF the rules look at); two BIRD sinks
// receive from each, one over iBGP and one over eBGP. What a sink holds from the two must be the
// same, route for route: prefix, AS_PATH, communities, large communities, LOCAL_PREF. (A BIRD
// runs one session per neighbour address, so each case has a source and sinks of its own.)
//
// BIRD 1.6 (what calico/node's fork is based on) differs in one thing: it runs an export filter
// after its BGP code has put our AS in front of the path for an eBGP peer, so an export
// prependASPath lands in front of our own AS ("65000 64512 ..."), against RFC 4271 §5.1.2 (the
// sender's AS is leftmost), which BIRD 2 and we follow. Its paths are compared with our AS moved
// back to the front, and the test counts where that was needed: only the eBGP sinks of the two
// cases whose export rules prepend.
//
// Where confd ends an export filter with calico_export_to_bgp_peers (the IP pool routes), both
// reflectors here end it with accept; the default export policy is a matter of its own.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Daemon } from "../helpers/cli.js";
import { filterCall, type RawFilter, renderFilters } from "../helpers/confd-filters.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";

const FIXTURES = join(new URL(".", import.meta.url).pathname, "../fixtures/calico-bgpfilter");
const CASES = [
  "match_operators",
  "communities_and_operations",
  "as_path_and_priority",
  "peer_type",
  "large_community",
  "multi_filter-explicit_peer",
  "match_source",
  "match_interface",
  "single_filter-explicit_peer",
];
const AS = 64512;
const EXTERNAL_AS = 65100;
const OURS = "127.0.54.1";
const BIRD_RR = "127.0.54.2";
/** BIRD 1.6, the base of the fork calico/node runs */
const BIRD1_RR = "127.0.54.3";
/** the reflectors compared, as each sink names its table from them */
const REFLECTORS = [
  ["ours", OURS],
  ["bird", BIRD_RR],
  ["bird1", BIRD1_RR],
] as const;
const SOURCE = (k: number) => `127.0.54.${10 + k}`;
const SINK_I = (k: number) => `127.0.54.${30 + k}`;
const SINK_E = (k: number) => `127.0.54.${50 + k}`;
const CLUSTER = "100.64.255.1";

/** A case's filters, named c<k>-<name>: cases reuse names, one reflector holds them all. */
const filtersOf = (k: number): RawFilter[] =>
  parseAllDocuments(readFileSync(join(FIXTURES, CASES[k]!, "filters.yaml"), "utf8")).map((d) => {
    const f = d.toJS() as RawFilter;
    return { ...f, metadata: { name: `c${k}-${f.metadata.name}` } };
  });

/** What the source announces: per /16 region the /16 itself, a /25 and /24s with each attribute profile. */
const PROFILES: string[] = [
  "",
  "bgp_community.add((65000,100));",
  "bgp_community.add((65000,42));",
  "bgp_large_community.add((65000,100,200));",
  "bgp_path.prepend(65000);",
  "bgp_path.prepend(65001); bgp_path.prepend(65000);",
  "bgp_local_pref = 2147483547;", // priority 100
  "bgp_local_pref = 2147483447;", // priority 200
  "bgp_community.add((65000,100)); bgp_path.prepend(65000); bgp_local_pref = 2147483447;",
];
const REGIONS = [
  ...[0, 1, 2, 3, 4, 5].map((n) => `100.${100 + n}`),
  ...[0, 1, 2, 3, 4, 5].map((n) => `100.${110 + n}`),
  "100.64",
  "100.80",
  "198.18",
];
function routes(): string[] {
  const out: string[] = [];
  for (const r of REGIONS) {
    out.push(`route ${r}.0.0/16 unreachable { bgp_next_hop = 203.0.113.9; };`);
    out.push(`route ${r}.200.0/25 unreachable { bgp_next_hop = 203.0.113.9; ${PROFILES[1]} };`);
    for (const [i, p] of PROFILES.entries())
      out.push(`route ${r}.${i + 1}.0/24 unreachable { bgp_next_hop = 203.0.113.9; ${p} };`);
  }
  return out;
}

const TIMERS = "connect delay time 1; connect retry time 2; error wait time 1, 2;";

/** A case's BIRD 2 source: the routes to both reflectors. */
const sourceConfig = (k: number) => (dir: string) =>
  `log "${dir}/bird.log" all;
router id ${SOURCE(k)};
protocol device { scan time 60; }
protocol static st { ipv4;
${routes().join("\n")}
}
${REFLECTORS.map(([, rr]) => rr)
  .map(
    (rr, j) => `protocol bgp to${j} {
  local ${SOURCE(k)} port 179 as ${AS}; neighbor ${rr} port 179 as ${AS}; strict bind yes; ${TIMERS}
  ipv4 { import none; export all; };
}`,
  )
  .join("\n")}
`;

/** A case's BIRD 2 sink, with our AS (iBGP) or another (eBGP): from each reflector into a table of its own. */
const sinkConfig = (address: string, asn: number) => (dir: string) =>
  `log "${dir}/bird.log" all;
router id ${address};
protocol device { scan time 60; }
${REFLECTORS.map(([r]) => `ipv4 table t_${r};`).join("\n")}
${REFLECTORS.map(
  ([r, rr]) => `protocol bgp from_${r} {
  local ${address} port 179 as ${asn}; neighbor ${rr} port 179 as ${AS}; strict bind yes; ${TIMERS}
  ${asn === AS ? "" : "multihop;"}
  ipv4 { table t_${r}; import all; export none; };
}`,
).join("\n")}
`;

/**
 * A BIRD reflector as confd configures a reflector node: the functions, called from each
 * peering's filters. BIRD 2 puts filters in an ipv4 channel and binds with `strict bind`; BIRD 1.6
 * has no channels and listens on one address only when told.
 */
const reflectorConfig = (bird1: boolean) => (dir: string) => {
  const me = bird1 ? BIRD1_RR : BIRD_RR;
  const calls = (fs: RawFilter[], dir: "import" | "export", sameAs: boolean) =>
    fs
      .map((f) => filterCall(f, dir, 4, sameAs))
      .filter(Boolean)
      .join(" ");
  const filters = (imports: string, exports: string, extra = "") =>
    bird1
      ? `${extra} import ${imports}; export ${exports};`
      : `ipv4 { import ${imports}; ${extra} export ${exports}; };`;
  const common = bird1
    ? `local ${me} as ${AS}; source address ${me}; ${TIMERS}`
    : `local ${me} port 179 as ${AS}; strict bind yes; ${TIMERS}`;
  return `log "${dir}/bird.log" all;
router id ${me};
${bird1 ? `listen bgp address ${me} port 179;` : ""}
protocol device { scan time 60; }
${renderFilters(
  CASES.flatMap((_, k) => filtersOf(k)),
  4,
).join("\n")}
${CASES.map((_, k) => {
  const fs = filtersOf(k);
  const client = `rr client; rr cluster id ${CLUSTER};`;
  return `protocol bgp src${k} { ${common} neighbor ${SOURCE(k)} as ${AS}; ${client}
  ${filters(`filter { ${calls(fs, "import", true)} accept; }`, "none")}
}
protocol bgp si${k} { ${common} neighbor ${SINK_I(k)} as ${AS}; ${client}
  ${filters("none", `filter { ${calls(fs, "export", true)} accept; }`)}
}
protocol bgp se${k} { ${common} neighbor ${SINK_E(k)} as ${EXTERNAL_AS}; multihop;
  ${filters("none", `filter { ${calls(fs, "export", false)} accept; }`, "next hop keep;")}
}`;
}).join("\n")}
`;
};

/** Our reflector's datastore: a reflector Node, the BGPFilters, and per case three BGPPeers naming them. */
function datastore(dir: string): string {
  const docs: object[] = [
    {
      kind: "BGPConfiguration",
      metadata: { name: "default" },
      spec: { asNumber: AS, nodeToNodeMeshEnabled: false },
    },
    {
      kind: "Node",
      metadata: { name: "rr" },
      spec: { bgp: { ipv4Address: `${OURS}/32`, routeReflectorClusterID: CLUSTER } },
    },
  ];
  CASES.forEach((_, k) => {
    const fs = filtersOf(k);
    for (const f of fs) docs.push({ kind: "BGPFilter", ...f });
    const filters = fs.map((f) => f.metadata.name);
    for (const [name, ip, asNumber] of [
      [`src${k}`, SOURCE(k), AS],
      [`si${k}`, SINK_I(k), AS],
      [`se${k}`, SINK_E(k), EXTERNAL_AS],
    ] as const) {
      // the originator's next hop also over eBGP: ours would be a loopback address
      const keep = asNumber === AS ? {} : { nextHopMode: "Keep" };
      docs.push({
        kind: "BGPPeer",
        metadata: { name },
        spec: { node: "rr", peerIP: ip, asNumber, filters, ...keep },
      });
    }
  });
  const file = join(dir, "calico.json");
  writeFileSync(
    file,
    JSON.stringify({ kind: "List", items: docs.map((d) => ({ apiVersion: "projectcalico.org/v3", ...d })) }),
  );
  return file;
}

interface Held {
  path: string;
  communities: string;
  large: string;
  localPref: string;
}

/** A sink table, prefix → the attributes the rules can change. */
function table(sink: Bird, name: string): Record<string, Held> {
  const out: Record<string, Held> = {};
  let current: Held | undefined;
  for (const line of sink.birdc("show", "route", "table", name, "all").split("\n")) {
    const m = /^(\d+\.\d+\.\d+\.\d+\/\d+)\s/.exec(line);
    if (m) {
      current = { path: "", communities: "", large: "", localPref: "" };
      out[m[1]!] = current;
      continue;
    }
    const a = /^\s+BGP\.(\w+):\s*(.*)$/.exec(line);
    if (!a || !current) continue;
    const [, key, value] = a as unknown as [string, string, string];
    const sorted = (v: string) => (v.match(/\([^)]*\)/g) ?? []).sort().join(" ");
    if (key === "as_path") current.path = value.trim();
    else if (key === "community") current.communities = sorted(value);
    else if (key === "large_community") current.large = sorted(value);
    else if (key === "local_pref") current.localPref = value.trim();
  }
  return out;
}

/** BIRD 1.6's eBGP path with our AS moved back in front of what its export filter prepended. */
function ourAsFirst(held: Record<string, Held>): { table: Record<string, Held>; moved: number } {
  let moved = 0;
  const table: Record<string, Held> = {};
  for (const [prefix, h] of Object.entries(held)) {
    const asns = h.path.split(" ");
    const i = asns.indexOf(String(AS));
    if (i > 0) {
      moved++;
      table[prefix] = { ...h, path: [String(AS), ...asns.slice(0, i), ...asns.slice(i + 1)].join(" ") };
    } else table[prefix] = h;
  }
  return { table, moved };
}

let birds: Bird[] = [];
/** per case, the iBGP sink and the eBGP sink */
let sinks: { i: Bird; e: Bird }[] = [];
let ours: Daemon;

beforeAll(async () => {
  const dir = workdir("bgpfilter");
  ours = new Daemon({ IP: OURS, NODENAME: "rr", DATASTORE_FILE: datastore(dir), ADD_PATHS: "off" });
  const peer = { addr: OURS, port: 179, asn: AS };
  birds.push(await startBird("bgpfilter-rr", { addr: BIRD_RR, peer, configText: reflectorConfig(false) }));
  birds.push(
    await startBird("bgpfilter-rr1", {
      addr: BIRD1_RR,
      peer,
      configText: reflectorConfig(true),
      bird1: true,
    }),
  );
  for (let k = 0; k < CASES.length; k++) {
    birds.push(
      await startBird(`bgpfilter-source${k}`, { addr: SOURCE(k), peer, configText: sourceConfig(k) }),
    );
    const i = await startBird(`bgpfilter-sink-i${k}`, {
      addr: SINK_I(k),
      peer,
      configText: sinkConfig(SINK_I(k), AS),
    });
    const e = await startBird(`bgpfilter-sink-e${k}`, {
      addr: SINK_E(k),
      peer,
      configText: sinkConfig(SINK_E(k), EXTERNAL_AS),
    });
    birds.push(i, e);
    sinks.push({ i, e });
  }
  // every session up
  const established = (b: Bird) =>
    b
      .birdc("show", "protocols")
      .split("\n")
      .filter((l) => /\sBGP\s/.test(l))
      .every((l) => l.includes("Established"));
  await waitFor(() => birds.slice(2).every(established), 60_000, "every session Established").catch(
    (e: Error) => {
      const down = birds.flatMap((b) =>
        b
          .birdc("show", "protocols")
          .split("\n")
          .filter((l) => /\sBGP\s/.test(l) && !l.includes("Established"))
          .map((l) => `${b.options.addr}: ${l}`),
      );
      throw new Error(`${e.message}; not established:\n${down.join("\n")}`);
    },
  );
  // the sinks' tables stop changing: the same twice, 2 s apart
  let last = "";
  await waitFor(
    async () => {
      await new Promise((r) => setTimeout(r, 2000));
      const now = sinks
        .map((s) => s.i.birdc("show", "route", "count") + s.e.birdc("show", "route", "count"))
        .join();
      const stable = now === last;
      last = now;
      return stable;
    },
    60_000,
    "the sinks' tables to settle",
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([ours?.stop("SIGKILL"), ...birds.map((b) => b.stop())]);
  birds = [];
  sinks = [];
});

/** per case, how many routes the iBGP and the eBGP sink hold */
const counts: number[][] = [];
/** the sinks where BIRD 1.6 put an export prepend in front of its own AS */
const prependedBy16: string[] = [];

describe("BGPFilter, against BIRD running confd's rendering of Calico's own test cases", () => {
  it.each(
    CASES.map((c, k) => [c, k] as const),
  )("%s: the sinks hold the same routes from ours, BIRD 2 and BIRD 1.6, over iBGP and eBGP", (_c, k) => {
    let held = 0;
    for (const sink of [sinks[k]!.i, sinks[k]!.e]) {
      const fromBird = table(sink, "t_bird");
      expect(table(sink, "t_ours")).toEqual(fromBird);
      const bird1 = ourAsFirst(table(sink, "t_bird1"));
      expect(bird1.table).toEqual(fromBird);
      if (bird1.moved) prependedBy16.push(`${CASES[k]} ${sink === sinks[k]!.e ? "eBGP" : "iBGP"}`);
      held += Object.keys(fromBird).length;
      counts[k] = [...(counts[k] ?? []), Object.keys(fromBird).length];
    }
    // something went through at all
    expect(held).toBeGreaterThan(0);
  });

  it("BIRD 1.6 differs only where an export rule prepends to an eBGP peer", () => {
    expect(prependedBy16.sort()).toEqual(["as_path_and_priority eBGP", "communities_and_operations eBGP"]);
  });

  it("the cases stop some routes and change others: the comparison is not of two full tables", () => {
    const offered = REGIONS.length * (PROFILES.length + 2);
    const filtering = counts.filter((c) => c.some((n) => n < offered)).length;
    expect(filtering).toBeGreaterThanOrEqual(7);
  });
});
