// The decision process: one step per row, both comparison directions, every insertion order.
import { describe, expect, it } from "vitest";
import {
  addressKey,
  type Candidate,
  compare,
  explain,
  type Step,
  selectBest,
} from "../../src/rib/decision.js";

const BASE: Candidate = {
  llgrStale: false,
  localPref: 100,
  asPathLength: 1,
  origin: 0,
  med: 0,
  neighborAs: 65001,
  ebgp: false,
  clusterListLength: 0,
  routerId: 100,
  peerAddress: addressKey("203.0.113.10"),
};

/** Each row: the better path and the worse one differ only where the step looks. */
const ROWS: [Step, Partial<Candidate>, Partial<Candidate>][] = [
  ["llgr-stale", { llgrStale: false }, { llgrStale: true, localPref: 200, routerId: 1 }],
  ["local-pref", { localPref: 200 }, { localPref: 100, asPathLength: 0, routerId: 1 }],
  ["as-path-length", { asPathLength: 1 }, { asPathLength: 2, origin: 0, routerId: 1 }],
  ["origin", { origin: 0 }, { origin: 2, routerId: 1 }],
  ["med", { med: 10 }, { med: 20, routerId: 1 }],
  ["ebgp-over-ibgp", { ebgp: true }, { ebgp: false, routerId: 1 }],
  ["router-id", { routerId: 5, clusterListLength: 2 }, { routerId: 9 }],
  [
    "cluster-list-length",
    { clusterListLength: 0 },
    { clusterListLength: 2, peerAddress: addressKey("203.0.113.2") },
  ],
  ["peer-address", { peerAddress: addressKey("203.0.113.2") }, { peerAddress: addressKey("203.0.113.10") }],
];

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

describe("decision process", () => {
  for (const [step, better, worse] of ROWS) {
    it(`${step} decides, whichever path comes first`, () => {
      const a = { ...BASE, ...better };
      const b = { ...BASE, ...worse };
      expect(compare(a, b)).toEqual({ winner: "a", step });
      expect(compare(b, a)).toEqual({ winner: "b", step });
      expect(selectBest([a, b], (x) => x)).toBe(a);
      expect(selectBest([b, a], (x) => x)).toBe(a);
      expect(explain([a, b], b, (x) => x)).toBe(step);
    });
  }

  it("compares MED only between paths from the same neighbour AS", () => {
    const a = { ...BASE, neighborAs: 65001, med: 50, routerId: 1 };
    const b = { ...BASE, neighborAs: 65002, med: 10, routerId: 2 };
    expect(compare(a, b)).toEqual({ winner: "a", step: "router-id" });
  });

  it("gives the same best for every insertion order when MED makes pairwise comparison cyclic", () => {
    // The classic case: A beats B by MED (same AS), B beats C by router id, C beats A by router id.
    const a = { ...BASE, neighborAs: 65001, med: 5, routerId: 3 };
    const b = { ...BASE, neighborAs: 65001, med: 10, routerId: 1 };
    const c = { ...BASE, neighborAs: 65002, med: 0, routerId: 2 };
    const winners = new Set(permutations([a, b, c]).map((order) => selectBest(order, (x) => x)));
    expect(winners).toEqual(new Set([c]));
  });

  it("every insertion order of a mixed set picks the same best", () => {
    const paths = ROWS.flatMap(([, better, worse]) => [
      { ...BASE, ...better },
      { ...BASE, ...worse },
    ]).slice(0, 7);
    const winners = new Set(permutations(paths).map((order) => selectBest(order, (x) => x)));
    expect(winners.size).toBe(1);
  });

  it("puts the shorter CLUSTER_LIST after the ORIGINATOR_ID, between steps f) and g) (RFC 4456 §9)", () => {
    // A: originator 10.0.0.1 with two cluster IDs; B: originator 10.0.0.2 with one. BIRD and FRR choose A.
    const a = { ...BASE, routerId: 0x0a000001, clusterListLength: 2, peerAddress: addressKey("203.0.113.9") };
    const b = { ...BASE, routerId: 0x0a000002, clusterListLength: 1, peerAddress: addressKey("203.0.113.1") };
    expect(compare(a, b)).toEqual({ winner: "a", step: "router-id" });
    expect(selectBest([b, a], (x) => x)).toBe(a);
    expect(explain([a, b], b, (x) => x)).toBe("router-id");
  });

  it("sorts peer addresses as addresses, not as text", () => {
    expect(addressKey("203.0.113.9") < addressKey("203.0.113.10")).toBe(true);
    expect(addressKey("2001:db8::9") < addressKey("2001:db8::a")).toBe(true);
    expect(addressKey("198.51.100.1") < addressKey("2001:db8::1")).toBe(true);
  });
});
