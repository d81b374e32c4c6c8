// The reflector assignment plan: properties over generated memberships, and the plan published
// as labels and BGPPeers followed by calico/node's own peering computation.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AssignmentPeer,
  assignedLabel,
  labelStep,
  labelText,
  ownLabels,
  type Plan,
  planAssignment,
  planMoves,
  publication,
  type ReflectorMember,
} from "../../src/datastore/assignment.js";
import { computePeerings, type Store } from "../../src/datastore/index.js";
import { worldStore } from "../helpers/assignment-world.js";

const membership = fc.record({
  reflectors: fc.uniqueArray(
    fc.record({
      name: fc.stringMatching(/^rr-[a-z0-9]{1,6}$/),
      zone: fc.option(fc.constantFrom("zone-a", "zone-b", "zone-c", "zone-d"), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 9, selector: (r) => r.name },
  ),
  nodes: fc.uniqueArray(fc.stringMatching(/^node-[a-z0-9]{1,8}$/), { minLength: 0, maxLength: 300 }),
  perNode: fc.integer({ min: 1, max: 3 }),
  slack: fc.integer({ min: 0, max: 10 }),
});

const zoneOf = (rs: readonly ReflectorMember[], name: string) => {
  const r = rs.find((x) => x.name === name);
  return r?.zone ?? `own ${name}`;
};

const shuffled = <T>(xs: readonly T[], seed: number): T[] =>
  xs
    .map((x, i) => ({ x, k: Math.sin(seed * 1000 + i) }))
    .sort((a, b) => a.k - b.k)
    .map((e) => e.x);

describe("the assignment plan", () => {
  it("the same membership gives the same plan, whatever the order", () => {
    fc.assert(
      fc.property(membership, fc.integer(), ({ reflectors, nodes, perNode, slack }, seed) => {
        const a = planAssignment(reflectors, nodes, { perNode, slack });
        const b = planAssignment(shuffled(reflectors, seed), shuffled(nodes, seed + 1), { perNode, slack });
        expect([...b.nodes].sort()).toEqual([...a.nodes].sort());
      }),
    );
  });

  it("every node gets R different reflectors (all of them when fewer), none above the capacity", () => {
    fc.assert(
      fc.property(membership, ({ reflectors, nodes, perNode, slack }) => {
        const p = planAssignment(reflectors, nodes, { perNode, slack });
        const r = Math.min(perNode, reflectors.length);
        expect(p.capacity).toBe(Math.ceil((nodes.length * r) / reflectors.length) + slack);
        for (const n of nodes) {
          const got = p.nodes.get(n) ?? [];
          expect(new Set(got).size).toBe(r);
        }
        for (const [, load] of p.load) expect(load).toBeLessThanOrEqual(p.capacity);
        const total = [...p.load.values()].reduce((a, b) => a + b, 0);
        expect(total).toBe(nodes.length * r);
      }),
    );
  });

  // Found by a longer run of the property above: three reflectors, R = 2, slack 1, nine nodes;
  // the last nodes found room on one reflector only and took one beyond the capacity.
  it("the last nodes too: no reflector beyond the capacity for any small cluster", () => {
    for (let n = 0; n <= 60; n++)
      for (const slack of [0, 1, 2])
        for (const m of [2, 3, 4]) {
          const rs = Array.from({ length: m }, (_, i) => ({ name: `rr-${i}`, zone: "zone-a" }));
          const nodes = Array.from({ length: n }, (_, i) => `node-${i}`);
          const p = planAssignment(rs, nodes, { perNode: 2, slack });
          expect(
            Math.max(0, ...p.load.values()),
            `${n} nodes, ${m} reflectors, slack ${slack}`,
          ).toBeLessThanOrEqual(p.capacity);
        }
  });

  it("a node's reflectors share a zone only when every reflector of another zone is full", () => {
    fc.assert(
      fc.property(membership, ({ reflectors, nodes, perNode, slack }) => {
        const p = planAssignment(reflectors, nodes, { perNode, slack });
        for (const [, rs] of p.nodes) {
          const zones = rs.map((r) => zoneOf(reflectors, r));
          if (new Set(zones).size === zones.length) continue;
          for (const other of reflectors.filter((x) => !zones.includes(zoneOf(reflectors, x.name))))
            expect(p.load.get(other.name)).toBe(p.capacity);
        }
      }),
    );
  });
});

/** How many zones a node's reflectors are in, and the most they can be in. */
const zonesOf = (rs: readonly ReflectorMember[], names: readonly string[]) =>
  new Set(names.map((n) => zoneOf(rs, n))).size;
const spreadOf = (rs: readonly ReflectorMember[], perNode: number) =>
  Math.min(perNode, new Set(rs.map((r) => zoneOf(rs, r.name))).size);

// The plan starts from the assignment the datastore has: a change moves only what it must.
describe("the plan through change", () => {
  const withCurrent = fc.record({
    m: membership,
    // some nodes' current reflectors, any names, some not members, some more than R
    current: fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(), { maxLength: 4 })), { maxLength: 60 }),
    seed: fc.integer(),
  });
  const currentOf = (
    { reflectors, nodes }: { reflectors: readonly ReflectorMember[]; nodes: readonly string[] },
    pairs: readonly [number, number[]][],
  ) => {
    const names = [...reflectors.map((r) => r.name), "rr-gone"];
    return new Map(
      nodes.length
        ? pairs.map(([n, rs]) => [
            nodes[n % nodes.length] as string,
            rs.map((r) => names[r % names.length] as string),
          ])
        : [],
    );
  };

  it("from any current assignment, a valid plan, the same whatever the order, and its own next plan", () => {
    fc.assert(
      fc.property(withCurrent, ({ m: { reflectors, nodes, perNode, slack }, current, seed }) => {
        const now = currentOf({ reflectors, nodes }, current);
        const p = planAssignment(reflectors, nodes, { perNode, slack }, now);
        const r = Math.min(perNode, reflectors.length);
        for (const n of nodes) expect(new Set(p.nodes.get(n)).size).toBe(r);
        for (const [, load] of p.load) expect(load).toBeLessThanOrEqual(p.capacity);
        const shuffledNow = new Map(shuffled([...now], seed));
        const q = planAssignment(
          shuffled(reflectors, seed),
          shuffled(nodes, seed + 1),
          { perNode, slack },
          shuffledNow,
        );
        expect([...q.nodes].sort()).toEqual([...p.nodes].sort());
        expect(planMoves(p, planAssignment(reflectors, nodes, { perNode, slack }, p.nodes)).nodes).toEqual(
          [],
        );
      }),
    );
  });

  it("without zones, every reflector holds between the floor and the capacity", () => {
    fc.assert(
      fc.property(withCurrent, ({ m: { reflectors, nodes, perNode, slack }, current }) => {
        const plain = reflectors.map((r) => ({ name: r.name }));
        const p = planAssignment(plain, nodes, { perNode, slack }, currentOf({ reflectors, nodes }, current));
        const even = (nodes.length * Math.min(perNode, plain.length)) / plain.length;
        expect(p.floor).toBe(Math.max(0, Math.floor(even) - slack));
        for (const [, load] of p.load) expect(load).toBeGreaterThanOrEqual(p.floor);
      }),
    );
  });

  /** The sets of k of these, in order. */
  const subsets = <T>(xs: readonly T[], k: number): T[][] =>
    k === 0
      ? [[]]
      : xs.length < k
        ? []
        : [...subsets(xs.slice(1), k - 1).map((s) => [xs[0] as T, ...s]), ...subsets(xs.slice(1), k)];

  /**
   * By search over every assignment: the fewest reflector sessions that must change from
   * `before` for every reflector to hold between the plan's floor and capacity, every node R
   * reflectors in as many zones as they allow. Undefined: no assignment is within the bounds.
   */
  const fewestMoves = (
    rs: readonly ReflectorMember[],
    nodes: readonly string[],
    plan: Plan,
    before: Plan,
  ) => {
    const perNode = Math.min(...[...plan.nodes.values()].map((x) => x.length));
    const spread = spreadOf(rs, perNode);
    const choices = subsets(
      rs.map((r) => r.name),
      perNode,
    ).filter((s) => zonesOf(rs, s) === spread);
    const load = new Map(rs.map((r) => [r.name, 0]));
    let best: number | undefined;
    const search = (i: number, cost: number) => {
      if (best !== undefined && cost >= best) return;
      if (i === nodes.length) {
        if ([...load.values()].every((l) => l >= plan.floor)) best = cost;
        return;
      }
      const was = new Set(before.nodes.get(nodes[i] as string));
      for (const s of choices) {
        if (s.some((r) => (load.get(r) as number) >= plan.capacity)) continue;
        for (const r of s) load.set(r, (load.get(r) as number) + 1);
        search(i + 1, cost + s.filter((r) => !was.has(r)).length);
        for (const r of s) load.set(r, (load.get(r) as number) - 1);
      }
    };
    search(0, 0);
    return best;
  };

  // Small enough to search every assignment: five reflectors, five nodes.
  const small = fc.record({
    reflectors: fc.integer({ min: 2, max: 5 }),
    nodes: fc.integer({ min: 1, max: 5 }),
    perNode: fc.integer({ min: 1, max: 3 }),
    slack: fc.integer({ min: 0, max: 2 }),
    added: fc.boolean(),
    pick: fc.nat(),
    salt: fc.string({ maxLength: 3 }),
  });

  // Without zones, a change moves exactly as few sessions as the new bounds need: as few as any
  // assignment within them.
  it("one reflector added or removed: exactly the fewest sessions any assignment within the bounds moves", () => {
    fc.assert(
      fc.property(small, ({ reflectors, nodes, perNode, slack, added, pick, salt }) => {
        const rs = Array.from({ length: reflectors }, (_, i) => ({ name: `rr-${i}${salt}` }));
        const names = Array.from({ length: nodes }, (_, i) => `node-${i}${salt}`);
        const changed = added
          ? [...rs, { name: `rr-new${salt}` }]
          : rs.filter((_, i) => i !== pick % rs.length);
        // the same R before and after: with fewer reflectors than R every node has them all
        fc.pre(Math.min(rs.length, changed.length) >= perNode);
        const options = { perNode, slack };
        const before = planAssignment(rs, names, options);
        const after = planAssignment(changed, names, options, before.nodes);
        const fewest = fewestMoves(changed, names, after, before);
        expect(fewest).toBeDefined();
        expect(planMoves(before, after).slots).toBe(fewest);
        for (const load of after.load.values()) {
          expect(load).toBeGreaterThanOrEqual(after.floor);
          expect(load).toBeLessThanOrEqual(after.capacity);
        }
      }),
    );
  });
});

/** Nodes and reflectors as bench:assignment has them: 5,000 nodes, reflectors over three zones. */
function cluster(reflectors: number): { rs: ReflectorMember[]; nodes: string[]; plan: Plan } {
  const rs = Array.from({ length: reflectors }, (_, i) => ({
    name: `rr-${i}`,
    zone: `zone-${"abc"[i % 3]}`,
  }));
  const nodes = Array.from({ length: 5000 }, (_, i) => `node-${i}`);
  return { rs, nodes, plan: planAssignment(rs, nodes, { perNode: 2, slack: 2 }) };
}

describe("5,000 nodes, R = 2, reflectors over three zones, slack 2", () => {
  const options = { perNode: 2, slack: 2 };
  it("balanced within the slack either way, every node in two zones", () => {
    const { rs, nodes, plan } = cluster(6);
    for (const load of plan.load.values()) {
      expect(load).toBeLessThanOrEqual(Math.ceil((5000 * 2) / 6) + 2);
      expect(load).toBeGreaterThanOrEqual(Math.floor((5000 * 2) / 6) - 2);
    }
    for (const n of nodes) expect(new Set(plan.nodes.get(n)?.map((r) => zoneOf(rs, r))).size).toBe(2);
  });

  it("a reflector's loss moves exactly its nodes, one session each", () => {
    const { rs, nodes, plan } = cluster(6);
    const without = planAssignment(
      rs.filter((r) => r.name !== "rr-1"),
      nodes,
      options,
      plan.nodes,
    );
    const had = [...plan.nodes].filter(([, r]) => r.includes("rr-1")).map(([n]) => n);
    expect(planMoves(plan, without)).toEqual({ nodes: had.sort(), slots: had.length });
    for (const n of nodes) expect(new Set(without.nodes.get(n)?.map((r) => zoneOf(rs, r))).size).toBe(2);
  });

  it("an arrival moves exactly the nodes it takes, its even share, one session each", () => {
    const { rs, nodes, plan } = cluster(5);
    const all = [...rs, { name: "rr-5", zone: "zone-c" }];
    const after = planAssignment(all, nodes, options, plan.nodes);
    const taken = [...after.nodes].filter(([, r]) => r.includes("rr-5")).map(([n]) => n);
    expect(planMoves(plan, after)).toEqual({ nodes: taken.sort(), slots: taken.length });
    expect(taken.length).toBeGreaterThanOrEqual(Math.floor((5000 * 2) / 6) - 2);
    expect(taken.length).toBeLessThanOrEqual(Math.ceil((5000 * 2) / 6) + 2);
    for (const n of nodes) expect(new Set(after.nodes.get(n)?.map((r) => zoneOf(all, r))).size).toBe(2);
  });
});

// Published as labels and BGPPeers, the plan is followed by calico/node unmodified: each node's
// peerings, computed as calico/node computes them (computePeerings in node mode), are exactly its
// assigned reflectors; and on the way from one plan to the next a node never has fewer.
describe("the plan published for calico/node", () => {
  const ZONES = ["zone-a", "zone-b", "zone-c", "zone-a"];
  const rrs = ZONES.map((zone, i) => ({ name: `rr-${i}`, zone, ip: `100.64.3.${i + 1}` }));
  const clients = Array.from({ length: 30 }, (_, i) => ({ name: `node-${i}`, ip: `100.64.4.${i + 1}` }));
  const ipOf = new Map([...rrs, ...clients].map((n) => [n.name, n.ip]));

  /** The datastore with these labels of ours on the Nodes and these BGPPeers. */
  const datastore = (labels: Map<string, Record<string, string>>, peers: AssignmentPeer[], members = rrs) =>
    worldStore([...members, ...clients], labels, peers);
  const peeringsOf = (store: Store, node: string) =>
    computePeerings(store.snapshot(), { nodeName: node })
      .peers.map((p) => p.address)
      .sort();
  const addresses = (names: readonly string[]) => names.map((n) => ipOf.get(n)).sort();
  /** The plan for every reflector and client, and the datastore with it published. */
  const published = () => {
    const plan = planAssignment(
      rrs,
      clients.map((c) => c.name),
      { perNode: 2, slack: 1 },
    );
    const pub = publication(plan);
    return { plan, store: datastore(pub.labels, pub.peers) };
  };

  it("every client peers with exactly its reflectors, and each reflector with exactly its clients and the other reflectors", () => {
    const { plan, store } = published();
    for (const c of clients)
      expect(peeringsOf(store, c.name), c.name).toEqual(addresses(plan.nodes.get(c.name) ?? []));
    for (const r of rrs) {
      const mine = [...plan.nodes].filter(([, rs]) => rs.includes(r.name)).map(([n]) => n);
      // and the other reflectors, for the routes of nodes with none in common
      const others = rrs.filter((x) => x !== r).map((x) => x.name);
      expect(peeringsOf(store, r.name), r.name).toEqual(addresses([...mine, ...others]));
    }
    // labels not ours are kept; ours are exactly one per assigned reflector
    expect(ownLabels({ team: "x", [assignedLabel("rr-1")]: "true" })).toEqual({
      [assignedLabel("rr-1")]: "true",
    });
  });

  // RFC 4456 §5: reflectors fully meshed as non-clients. A client's route crosses one
  // reflector-to-reflector hop, and no more: as clients of each other (calico/node's rule for
  // reflectors of different cluster IDs), five reflectors with ADD-PATH passed every route on
  // through every order of them, some 22 paths per prefix at each and 85 in its Adj-RIBs-In.
  it("reflectors peer with each other as non-clients, and with their nodes as clients", () => {
    const { store } = published();
    const reflectorIps = new Set(rrs.map((r) => r.ip));
    for (const r of rrs) {
      const peers = computePeerings(store.snapshot(), { nodeName: r.name }).peers;
      expect(peers.filter((p) => reflectorIps.has(p.address)).map((p) => p.rrClient)).toEqual(
        Array(rrs.length - 1).fill(false),
      );
      const own = peers.filter((p) => !reflectorIps.has(p.address));
      expect(own.length).toBeGreaterThan(0);
      expect(own.every((p) => p.rrClient)).toBe(true);
    }
  });

  // A session not up yet is no reflector: a node keeps every reflector it had that is still
  // alive until the caller has seen the new ones established.
  it.each([
    ["removed", rrs, rrs.filter((r) => r.name !== "rr-1")],
    ["added", rrs.slice(0, 3), rrs],
  ])("a reflector %s: each node keeps its old reflectors beside the new until they are up, then has exactly the new", (kind, was, now) => {
    const names = clients.map((c) => c.name);
    const before = planAssignment(was, names, { perNode: 2, slack: 1 });
    const after = planAssignment(now, names, { perNode: 2, slack: 1 }, before.nodes);
    const from = publication(before);
    const to = publication(after);
    let labels = new Map(from.labels);
    let moved = 0;
    for (const established of [false, true]) {
      const next = new Map<string, Record<string, string>>();
      for (const c of names) {
        const step = labelStep(labels.get(c) ?? {}, to.labels.get(c) ?? {}, established);
        const l = { ...labels.get(c), ...step.set };
        for (const k of step.remove) delete l[k];
        next.set(c, l);
      }
      for (const r of now) next.set(r.name, to.labels.get(r.name) ?? {});
      labels = next;
      const store = datastore(labels, to.peers, now);
      for (const c of names) {
        const peers = peeringsOf(store, c);
        const kept = (before.nodes.get(c) ?? []).filter((r) => now.some((x) => x.name === r));
        if (!established) {
          expect(peers, c).toEqual(
            expect.arrayContaining([...addresses(kept), ...addresses(after.nodes.get(c) ?? [])]),
          );
          if (peers.length > 2) moved++;
        } else expect(peers, c).toEqual(addresses(after.nodes.get(c) ?? []));
      }
    }
    // an arrival takes nodes from reflectors that stay: those nodes had three for a while
    if (kind === "added") expect(moved).toBeGreaterThan(0);
  });

  it("a Node name too long for a label is cut and keeps a hash of the whole", () => {
    const long = `rr-${"x".repeat(80)}.example`;
    const text = labelText(long);
    expect(text.length).toBeLessThanOrEqual(63);
    expect(text).toMatch(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);
    expect(labelText(`${long}2`)).not.toBe(text);
    expect(labelText("rr-1")).toBe("rr-1");
  });
});
