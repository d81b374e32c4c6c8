// The assignment writer's step (assignmentStep), run in a loop against a model datastore whose
// Calico nodes peer as calico/node computes it (computePeerings) and whose sessions come up one
// step after their peering appears: from nothing to the plan, through a reflector's loss and
// arrival, and off again, no node ever has fewer sessions up than it had while a reflector of
// its stays alive, and the step is idempotent once there.
import { describe, expect, it } from "vitest";
import {
  ASSIGNMENT_LABEL_PREFIX,
  type AssignmentPeer,
  type AssignmentWrite,
  assignedLabel,
  assignmentStep,
  LEAVING,
  type MemberStatus,
  memberStatus,
  type Plan,
  planMoves,
  publication,
  UNREPORTED,
} from "../../src/datastore/assignment.js";
import { computePeerings, type Store } from "../../src/datastore/index.js";
import type { NodeResource } from "../../src/datastore/resources.js";
import { worldStore, ZONE_LABEL } from "../helpers/assignment-world.js";

const OPTIONS = { perNode: 2, slack: 1, zoneLabel: ZONE_LABEL };
const rrs = ["zone-a", "zone-b", "zone-c", "zone-a", "zone-b"].map((zone, i) => ({
  name: `rr-${i}`,
  zone,
  ip: `100.64.3.${i + 1}`,
}));
const clients = Array.from({ length: 40 }, (_, i) => ({ name: `node-${i}`, ip: `100.64.4.${i + 1}` }));
const nameOf = new Map([...rrs, ...clients].map((n) => [n.ip, n.name]));

/** The datastore: Nodes with their labels (ours and a team label), and the BGPPeers. */
class World {
  readonly labels = new Map<string, Record<string, string>>();
  readonly peers = new Map<string, AssignmentPeer>();
  writes = 0;

  store(): Store {
    return worldStore([...rrs, ...clients], this.labels, this.peers.values());
  }

  apply(writes: readonly AssignmentWrite[]): void {
    for (const w of writes) {
      this.writes++;
      if (w.kind === "peer") this.peers.set(w.peer.name, w.peer);
      else if (w.kind === "deletePeer") this.peers.delete(w.name);
      else {
        const l = { ...this.labels.get(w.node), ...w.set };
        for (const k of w.remove) delete l[k];
        this.labels.set(w.node, l);
      }
    }
  }
}

/** The (client, reflector) pairs calico/node peers, from the client's side and the reflector's. */
function peered(store: Store): Set<string> {
  const snap = store.snapshot();
  const pairs = new Set<string>();
  for (const c of clients) {
    const mine = computePeerings(snap, { nodeName: c.name }).peers.map((p) => nameOf.get(p.address));
    for (const r of rrs) {
      const theirs = computePeerings(snap, { nodeName: r.name }).peers.some((p) => p.address === c.ip);
      // a session needs both ends configured
      if (mine.includes(r.name) && theirs) pairs.add(`${c.name}|${r.name}`);
    }
  }
  return pairs;
}

/**
 * Runs the writer until it has nothing to write. Each step: the sessions up are the pairs peered
 * both now and at the last step (a session takes a step to come up) with a live reflector; the
 * live members report their status from them; the writer's writes are applied. Returns each
 * client's sessions up at every step.
 */
function run(world: World, live: readonly string[], members = live, maxSteps = 12, lag = false) {
  // with lag, the writer sees each member's status of the step before (none yet: unreported)
  let reported = new Map<string, MemberStatus | undefined>(
    members.map((r) => [r, live.includes(r) ? UNREPORTED : undefined]),
  );
  // the sessions the last run left up are up
  let before = peered(world.store());
  const history: Map<string, number>[] = [];
  const plans: Plan[] = [];
  const leaving = new Set<string>();
  for (let step = 0; step < maxSteps; step++) {
    const store = world.store();
    const now = peered(store);
    const up = new Set([...now].filter((p) => before.has(p) && live.includes(p.split("|")[1]!)));
    before = now;
    history.push(
      new Map(clients.map((c) => [c.name, rrs.filter((r) => up.has(`${c.name}|${r.name}`)).length])),
    );
    const snap = store.snapshot();
    const statuses = new Map<string, MemberStatus | undefined>(
      members.map((r) => [
        r,
        live.includes(r) ? memberStatus(r, snap.nodes, (a) => up.has(`${nameOf.get(a)}|${r}`)) : undefined,
      ]),
    );
    const { writes, plan } = assignmentStep(snap, lag ? reported : statuses, OPTIONS);
    plans.push(plan);
    for (const [node, labels] of world.labels) if (Object.values(labels).includes(LEAVING)) leaving.add(node);
    reported = statuses;
    const settled = [...now].every((p) => up.has(p) || !live.includes(p.split("|")[1]!));
    if (writes.length === 0 && settled && (!lag || step > 0))
      return { history, steps: step, store, plan, plans, leaving };
    world.apply(writes);
  }
  throw new Error(`still writing after ${maxSteps} steps`);
}

/** No client ever has fewer sessions up than at the step before, unless it had more than R. */
function neverFewer(history: Map<string, number>[], floor: (node: string) => number = () => 1): void {
  for (let t = 1; t < history.length; t++)
    for (const [node, n] of history[t]!) {
      const was = history[t - 1]!.get(node)!;
      if (was > 0) expect(n, `${node} at step ${t}`).toBeGreaterThanOrEqual(Math.min(was, floor(node)));
    }
}

const names = rrs.map((r) => r.name);

describe("the assignment writer, stepped against calico/node's peerings", () => {
  it("from nothing, every client ends with its planned reflectors up, and then nothing more is written", () => {
    const world = new World();
    const { history, store, steps } = run(world, names);
    expect(history.at(-2)!.get("node-0")).toBe(0);
    const last = history.at(-1)!;
    for (const c of clients) expect(last.get(c.name), c.name).toBe(2);
    const step = assignmentStep(
      store.snapshot(),
      new Map(names.map((r) => [r, memberStatus(r, store.snapshot().nodes, () => true)])),
      OPTIONS,
    );
    expect(step.writes).toEqual([]);
    // the datastore holds exactly the publication, beside the team labels
    const pub = publication(step.plan);
    for (const c of clients) expect(world.labels.get(c.name)).toEqual(pub.labels.get(c.name));
    expect([...world.peers.values()]).toEqual(pub.peers);
    // written at once; a step for the sessions to come up, one to see it
    expect(steps).toBe(2);
  });

  it("a reflector lost: its nodes get a new one up before the dead label goes; none ever has fewer up than the live one", () => {
    const world = new World();
    const was = run(world, names).plan;
    const dead = "rr-1";
    const alive = names.filter((r) => r !== dead);
    // within the grace period the dead one is still a member: nothing moves
    const quiet = world.writes;
    run(world, alive, names);
    expect(world.writes).toBe(quiet);
    const { history, plan } = run(world, alive);
    neverFewer(history);
    for (const c of clients) expect(history.at(-1)!.get(c.name), c.name).toBe(2);
    for (const c of clients) expect(world.labels.get(c.name)?.[assignedLabel(dead)]).toBeUndefined();
    expect(world.peers.has(`routereflector-${dead}`)).toBe(false);
    // at most two writes for each node whose plan changed (add, then remove), the dead one's own
    // label and its BGPPeer
    // the dead one's nodes move, each to one other; with zone b down to rr-4, the floor of
    // zone a's two makes a few nodes of zones b and c exchange one too (how few the plan moves
    // is its own property, test/datastore/assignment.test.ts)
    const moved = planMoves(was, plan);
    const had = clients.filter((c) => was.nodes.get(c.name)?.includes(dead)).map((c) => c.name);
    expect(moved.nodes).toEqual(expect.arrayContaining(had));
    expect(moved.slots).toBe(moved.nodes.length);
    const nodes = moved.nodes;
    expect(world.writes - quiet).toBeLessThanOrEqual(nodes.length * 2 + 2);
  });

  it("a reflector added: nodes it takes keep both old ones up until it is up, and the others are untouched", () => {
    const world = new World();
    const four = names.slice(0, 4);
    const was = run(world, four).plan;
    const before = new Map(clients.map((c) => [c.name, { ...world.labels.get(c.name) }]));
    const { history, plan, plans, leaving } = run(world, names);
    neverFewer(history, () => 2);
    // the nodes moving off a reflector carried it as leaving meanwhile, and every step planned
    // the same: a node half way is not planned again
    expect(leaving.size).toBeGreaterThan(0);
    for (const p of plans) expect(planMoves(p, plan).nodes).toEqual([]);
    const moved = clients
      .filter((c) => JSON.stringify(world.labels.get(c.name)) !== JSON.stringify(before.get(c.name)))
      .map((c) => c.name);
    // exactly the nodes whose plan changed, each taking the new one in place of one it had
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.sort()).toEqual(planMoves(was, plan).nodes);
    for (const n of moved) expect(plan.nodes.get(n), n).toContain("rr-4");
    expect(planMoves(was, plan).slots).toBe(moved.length);
  });

  it("a node that is down does not hold its labels back for ever", () => {
    const world = new World();
    run(world, names);
    const down = "node-3";
    const mine = Object.keys(world.labels.get(down) ?? {});
    const dead = names.find((r) => mine.includes(assignedLabel(r)))!;
    // the node's sessions are never up: its old labels go once it has none up either
    const alive = names.filter((r) => r !== dead);
    const store = world.store();
    const snap = store.snapshot();
    const statuses = new Map(
      alive.map((r) => [
        r,
        memberStatus(r, snap.nodes, (a) => nameOf.get(a) !== down) as MemberStatus | undefined,
      ]),
    );
    const first = assignmentStep(snap, statuses, OPTIONS);
    const w = first.writes.find((x) => x.kind === "labels" && x.node === down);
    expect(w).toMatchObject({ kind: "labels", node: down, remove: [assignedLabel(dead)] });
  });

  it("switched off (no members): every label and BGPPeer of ours goes, and nothing else", () => {
    const world = new World();
    run(world, names);
    run(world, [], []);
    for (const c of [...clients, ...rrs])
      expect(
        Object.keys(world.labels.get(c.name) ?? {}).filter((k) => k.startsWith(ASSIGNMENT_LABEL_PREFIX)),
      ).toEqual([]);
    expect(world.peers.size).toBe(0);
    const snap = world.store().snapshot();
    for (const c of clients) expect(snap.nodes.get(c.name)?.labels.team).toBe("x");
  });

  it("reflectors sharing a cluster ID are warned of: they would drop each other's routes", () => {
    const world = new World();
    const snap = world.store().snapshot();
    const members = new Map(names.map((r) => [r, undefined]));
    expect(assignmentStep(snap, members, OPTIONS).warnings).toEqual([]);
    const shared = new Map(snap.nodes);
    for (const r of ["rr-0", "rr-3"])
      shared.set(r, { ...(shared.get(r) as NodeResource), clusterId: "224.0.0.1" });
    expect(assignmentStep({ ...snap, nodes: shared }, members, OPTIONS).warnings).toEqual([
      expect.stringMatching(/^reflectors rr-0, rr-3 share route reflector cluster ID 224\.0\.0\.1/),
    ]);
  });

  // Statuses arrive after the labels they were computed from (a lease renewal later): a
  // reflector whose status is older than the labels is neither up nor down for the writer, so a
  // node keeps what it has until the new reflectors report it up, as members join one by one.
  it("statuses a step behind, members joining one by one, then one lost: no node ever has fewer sessions up", () => {
    const world = new World();
    const joined: string[] = [];
    const history: Map<string, number>[] = [];
    for (const r of names) {
      joined.push(r);
      history.push(...run(world, joined, joined, 20, true).history);
    }
    history.push(...run(world, names.slice(0, 4), names.slice(0, 4), 20, true).history);
    neverFewer(history);
    expect(history.at(-1)!.get("node-0")).toBe(2);
  });
});
