// Which reflectors each client node peers with (ASSIGN_REFLECTORS=R). A node keeps the reflectors
// it has while they stay members, the load bound holds and its zones are spread; only what breaks
// one of those moves: a reflector's arrival takes its share from the others, a departure's nodes
// go to those with room. New nodes and the places that free up are filled by rendezvous, or
// highest-random-weight, hashing over (node, reflector), so every instance computes the same plan
// from the same membership and the same assignment. A node's R reflectors are in different zones
// where the zones allow, and each reflector takes between floor(even share) - slack and
// ceil(even share) + slack nodes. Pure: no time, no I/O.
import { createHash } from "node:crypto";
import { MESH_PEER, type Snapshot } from "./peerings.js";
import type { NodeResource } from "./resources.js";

export interface ReflectorMember {
  /** its Calico Node name */
  name: string;
  /** its zone label (topology.kubernetes.io/zone by default); none: a zone of its own */
  zone?: string;
}

export interface PlanOptions {
  /** reflectors per node (R) */
  perNode: number;
  /** how far a reflector's load may be from its even share, either way */
  slack: number;
}

export interface Plan {
  /** each client node's reflectors, by rank */
  nodes: Map<string, string[]>;
  /** each reflector's client nodes */
  load: Map<string, number>;
  /** the most nodes a reflector takes: ceil(even share) + slack */
  capacity: number;
  /** the fewest a reflector is given where the zones allow: floor(even share) - slack */
  floor: number;
}

/** FNV-1a over the text, then murmur3's finaliser: 32 well-mixed bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The weight of a reflector for a node: the higher, the more that node prefers it. */
const weight = (node: string, reflector: string): number => hash32(`${node}\u0000${reflector}`);

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The plan for these reflectors and client nodes, starting from `current` (each node's
 * reflectors now; none: a plan from nothing). The order of any of them does not matter: the same
 * members and the same current assignment give the same plan, and a plan is its own next one.
 */
export function planAssignment(
  reflectors: readonly ReflectorMember[],
  clients: readonly string[],
  options: PlanOptions,
  current: ReadonlyMap<string, readonly string[]> = new Map(),
): Plan {
  const members = [...new Map(reflectors.map((r) => [r.name, r])).values()].sort((a, b) =>
    byName(a.name, b.name),
  );
  const member = new Map(members.map((m) => [m.name, m]));
  const names = members.map((m) => m.name);
  const perNode = Math.min(options.perNode, members.length);
  // each node in an order of its own hash, so that no name sorts first for the room left
  const order = [...new Set(clients)]
    .filter((n) => !member.has(n))
    .map((n) => ({ n, h: hash32(n) }))
    .sort((a, b) => a.h - b.h || byName(a.n, b.n))
    .map((x) => x.n);
  const total = order.length * perNode;
  const even = members.length ? total / members.length : 0;
  const capacity = members.length ? Math.ceil(even) + options.slack : 0;
  const floor = Math.max(0, Math.floor(even) - options.slack);
  const zoneOf = (r: string) => member.get(r)?.zone ?? `\u0000${r}`;
  // the most zones a node's reflectors can be in
  const spread = Math.min(perNode, new Set(members.map((m) => zoneOf(m.name))).size);
  const zonesOf = (rs: readonly string[]) => new Set(rs.map(zoneOf)).size;
  /** How many more zones a node's reflectors are in with `to` in place of `from` (below 0: fewer). */
  const widens = (rs: readonly string[], from: string, to: string) =>
    zonesOf(rs.map((r) => (r === from ? to : r))) - zonesOf(rs);
  /** Whether a node with these (other) reflectors may take r: not twice, and of a zone it lacks if `zoned`. */
  const fits = (others: readonly string[], r: string, zoned: boolean) =>
    !others.includes(r) && !(zoned && others.some((x) => zoneOf(x) === zoneOf(r)));
  const ranked = (node: string, rs: readonly string[]) =>
    rs
      .map((r) => ({ r, w: weight(node, r) }))
      .sort((a, b) => b.w - a.w || byName(a.r, b.r))
      .map((x) => x.r);
  // every member, in the order a node prefers them: hashed once per node
  const preferences = new Map<string, string[]>();
  const preference = (node: string) => {
    const known = preferences.get(node);
    if (known) return known;
    const p = ranked(node, names);
    preferences.set(node, p);
    return p;
  };

  const plan = new Map<string, string[]>();
  const holders = new Map(members.map((m) => [m.name, new Set<string>()]));
  const load = (r: string) => holders.get(r)?.size ?? 0;
  let changes = 0;
  const give = (node: string, r: string) => {
    changes++;
    plan.get(node)?.push(r);
    holders.get(r)?.add(node);
  };
  const swap = (node: string, from: string, to: string) => {
    changes++;
    const rs = plan.get(node) as string[];
    rs[rs.indexOf(from)] = to;
    holders.get(from)?.delete(node);
    holders.get(to)?.add(node);
  };
  // What each node has and keeps: its reflectors that are still members, at most R, of as
  // many zones as it can, those it weighs most.
  for (const node of order) {
    plan.set(node, []);
    const kept = ranked(
      node,
      [...new Set(current.get(node) ?? [])].filter((r) => member.has(r)),
    );
    for (const zoned of [true, false])
      for (const r of kept) {
        const rs = plan.get(node) as string[];
        if (rs.length < perNode && fits(rs, r, zoned)) give(node, r);
      }
  }
  // Until a round changes nothing. Only the first fills (every node has R after it) or goes
  // beyond the capacity; respreading widens a node's zones each time and nothing narrows one;
  // rebalancing moves nodes into the bounds. The bound on rounds is a guard.
  for (let round = 0; round <= order.length * perNode; round++) {
    const before = changes;
    fill();
    rebalance(targets());
    repair();
    respread();
    if (changes === before) break;
  }
  return { nodes: plan, load: new Map(members.map((m) => [m.name, load(m.name)])), capacity, floor };

  /**
   * The nodes short of R (new ones, and those a reflector left) take the reflectors they weigh
   * most, in passes: of a zone they lack up to the floor, then up to the capacity, then of any
   * zone, then beyond the capacity (repaired later). Where every reflector a node may take is
   * full, a node given one before it in this fill moves on to another to make room (an
   * augmenting path, as in bipartite matching): only the nodes being filled move.
   */
  function fill(): void {
    const short = order.filter((n) => (plan.get(n) as string[]).length < perNode);
    if (!short.length) return;
    // Each reflector's nodes given it in this fill (those may move on), grouped by the other
    // reflectors each has: whether one may move on to a reflector is a question per group.
    const groups = new Map(names.map((r) => [r, new Map<string, Set<string>>()]));
    const keys = new Map<string, Map<string, string>>();
    const enter = (node: string, r: string) => {
      const key = (plan.get(node) as string[])
        .filter((x) => x !== r)
        .sort(byName)
        .join("\n");
      const g = groups.get(r) as Map<string, Set<string>>;
      g.set(key, (g.get(key) ?? new Set()).add(node));
      keys.set(node, (keys.get(node) ?? new Map()).set(r, key));
    };
    const leave = (node: string, r: string) => {
      const g = groups.get(r) as Map<string, Set<string>>;
      const key = keys.get(node)?.get(r) as string;
      g.get(key)?.delete(node);
      if (!g.get(key)?.size) g.delete(key);
      keys.get(node)?.delete(r);
    };
    /** After a node's reflectors changed: its groups, by its other reflectors, change too. */
    const regroup = (node: string) => {
      for (const r of [...(keys.get(node)?.keys() ?? [])]) {
        leave(node, r);
        enter(node, r);
      }
    };
    /**
     * Gives a node a reflector with room, or else finds, breadth first over the full reflectors
     * it may take, a chain of nodes given one in this fill that each move on to the next, the
     * last to one with room. Reflectors in `dead` lead nowhere; a failed search adds those it saw.
     */
    const place = (node: string, room: number, zoned: boolean, dead: Set<string>): boolean => {
      const candidates = preference(node).filter(
        (r) => !dead.has(r) && fits(plan.get(node) as string[], r, zoned),
      );
      const take = (r: string) => {
        give(node, r);
        regroup(node);
        enter(node, r);
        return true;
      };
      const direct = candidates.find((r) => load(r) < room);
      if (direct !== undefined) return take(direct);
      // how each reflector reached was reached: from which, by which node moving on
      const via = new Map<string, { from: string; mover: string } | undefined>(
        candidates.map((r) => [r, undefined]),
      );
      const onPath = (r: string, mover: string) => {
        for (let at = via.get(r); at; at = via.get(at.from)) if (at.mover === mover) return true;
        return false;
      };
      const moverFor = (r: string, next: string) => {
        for (const [key, nodes] of groups.get(r) as Map<string, Set<string>>)
          if (fits(key ? key.split("\n") : [], next, zoned))
            for (const m of nodes) if (!onPath(r, m)) return m;
        return undefined;
      };
      for (const r of via.keys())
        for (const next of names) {
          if (via.has(next) || dead.has(next)) continue;
          const mover = moverFor(r, next);
          if (mover === undefined) continue;
          via.set(next, { from: r, mover });
          if (load(next) >= room) continue;
          // room at the end of the chain: each node on it moves on, and the node takes the first
          let at = next;
          for (let step = via.get(at); step; step = via.get(at)) {
            leave(step.mover, step.from);
            swap(step.mover, step.from, at);
            regroup(step.mover);
            enter(step.mover, at);
            at = step.from;
          }
          return take(at);
        }
      for (const r of via.keys()) dead.add(r);
      return false;
    };
    for (const zoned of [true, false])
      for (const room of [floor, capacity, Number.POSITIVE_INFINITY]) {
        // the reflectors a search found no way on from stay so until one succeeds (room only
        // shrinks; as in Kuhn's matching, a failed search changes nothing)
        let dead = new Set<string>();
        for (const node of short)
          while ((plan.get(node) as string[]).length < perNode) {
            if (!place(node, room, zoned, dead)) break;
            dead = new Set();
          }
      }
  }

  /**
   * What each reflector should hold, every node having R: its load, brought within [floor,
   * capacity], then raised or lowered as the sum needs, first where that moves fewer nodes.
   */
  function targets(): Map<string, number> {
    const t = new Map(members.map((m) => [m.name, Math.min(capacity, Math.max(floor, load(m.name)))]));
    let sum = [...t.values()].reduce((a, b) => a + b, 0);
    const gap = (r: string) => (t.get(r) as number) - load(r);
    // the first member (by name) with the least key among those that may change
    const pick = (ok: (v: number) => boolean, key: (r: string, v: number) => [number, number]) => {
      let best: { r: string; k: [number, number] } | undefined;
      for (const { name: r } of members) {
        const v = t.get(r) as number;
        if (!ok(v)) continue;
        const k = key(r, v);
        if (!best || k[0] < best.k[0] || (k[0] === best.k[0] && k[1] < best.k[1])) best = { r, k };
      }
      return (best as { r: string }).r;
    };
    for (; sum > total; sum--) {
      // lower one that would receive nodes, else the highest
      const r = pick(
        (v) => v > floor,
        (r, v) => [gap(r) > 0 ? 0 : 1, -v],
      );
      t.set(r, (t.get(r) as number) - 1);
    }
    for (; sum < total; sum++) {
      // raise one that would give nodes away, else the lowest
      const r = pick(
        (v) => v < capacity,
        (r, v) => [gap(r) < 0 ? 0 : 1, v],
      );
      t.set(r, (t.get(r) as number) + 1);
    }
    return t;
  }

  /**
   * Nodes move from the reflectors above their targets to those below: each receiver takes, from
   * the supplier with the most to give, the nodes it can take without narrowing their zones,
   * those it spreads wider first, then those that weigh it most. A receiver still below the
   * floor then takes from any reflector above it: the same number of moves, from elsewhere.
   */
  function rebalance(target: ReadonlyMap<string, number>): void {
    const surplus = (r: string) => load(r) - (target.get(r) as number);
    const receivers = names
      .filter((r) => surplus(r) < 0)
      .sort((a, b) => surplus(a) - surplus(b) || byName(a, b));
    for (const x of receivers) {
      transfer(x, () => -surplus(x), surplus);
      transfer(
        x,
        () => floor - load(x),
        (r) => load(r) - floor,
      );
    }
  }

  /** Moves nodes to x while it needs them, from the reflectors with any to spare, most first. */
  function transfer(x: string, need: () => number, spare: (r: string) => number): void {
    for (let moved = true; moved && need() > 0; ) {
      moved = false;
      const suppliers = names
        .filter((r) => r !== x && spare(r) > 0)
        .sort((a, b) => spare(b) - spare(a) || byName(a, b));
      for (const y of suppliers) {
        const nodes = movable(y, x).slice(0, Math.min(need(), spare(y)));
        for (const n of nodes) swap(n, y, x);
        moved = nodes.length > 0;
        if (moved) break;
      }
    }
  }

  /** The nodes of y that may take x instead without narrowing their zones, best first. */
  function movable(y: string, x: string): string[] {
    const wider = (node: string) => widens(plan.get(node) as string[], y, x);
    return [...(holders.get(y) as Set<string>)]
      .filter((n) => !(plan.get(n) as string[]).includes(x) && wider(n) >= 0)
      .map((n) => ({ n, wider: wider(n), w: weight(n, x) }))
      .sort((a, b) => b.wider - a.wider || b.w - a.w || byName(a.n, b.n))
      .map((c) => c.n);
  }

  /**
   * What is still beyond the capacity (the last nodes of a fill found no room among reflectors
   * they lacked, or rebalancing found no node to move without narrowing its zones) moves to
   * reflectors with room: nodes it weighs least first, without narrowing their zones where any
   * can. Such a node always exists: a reflector with room that every node of a full one also had
   * would hold more than the full one. A move frees a slot and fills none beyond.
   */
  function repair(): void {
    for (const { name: x } of members)
      for (const narrowing of [false, true]) {
        if (load(x) <= capacity) break;
        const nodes = [...(holders.get(x) as Set<string>)].sort(
          (a, b) => weight(a, x) - weight(b, x) || byName(a, b),
        );
        for (const node of nodes) {
          if (load(x) <= capacity) break;
          const rs = plan.get(node) as string[];
          const to = preference(node).find(
            (r) => !rs.includes(r) && load(r) < capacity && (narrowing || widens(rs, x, r) >= 0),
          );
          if (to !== undefined) swap(node, x, to);
        }
      }
  }

  /**
   * A node whose reflectors share a zone takes, for the one of them it weighs least, a reflector
   * of a zone it lacks: one with room, or else one full, from a node of it that takes the shared
   * one back without narrowing its own zones (an exchange: no load changes).
   */
  function respread(): void {
    for (const node of order) {
      const rs = plan.get(node) as string[];
      if (zonesOf(rs) >= spread) continue;
      const zones = rs.map(zoneOf);
      const from = ranked(node, rs)
        .filter((r) => zones.filter((z) => z === zoneOf(r)).length > 1)
        .at(-1) as string;
      const lacking = preference(node).filter((r) => !zones.includes(zoneOf(r)));
      const to = lacking.find((r) => load(r) < capacity);
      if (to !== undefined) {
        swap(node, from, to);
        continue;
      }
      for (const r of lacking) {
        const other = movable(r, from)[0];
        if (other === undefined) continue;
        swap(node, from, r);
        swap(other, r, from);
        break;
      }
    }
  }
}

/** The nodes whose reflectors differ between two plans, and how many reflector slots moved. */
export function planMoves(before: Plan, after: Plan): { nodes: string[]; slots: number } {
  const moved: string[] = [];
  let slots = 0;
  for (const [node, now] of after.nodes) {
    const was = new Set(before.nodes.get(node) ?? []);
    const gained = now.filter((r) => !was.has(r)).length;
    if (gained) moved.push(node);
    slots += gained;
  }
  return { nodes: moved.sort(), slots };
}

// --- publication: what an unmodified calico/node follows --------------------------------------

/** The prefix of every label this writes; labels without it are never touched. */
export const ASSIGNMENT_LABEL_PREFIX = "routereflector.projectcalico.org/";
/** On each reflector's Node: its name, for the BGPPeers' peerSelector. */
export const REFLECTOR_LABEL = `${ASSIGNMENT_LABEL_PREFIX}reflector`;
/** The prefix of the BGPPeers this writes, one per reflector. */
export const ASSIGNMENT_PEER_PREFIX = "routereflector-";

/**
 * A name as a label's name part or value (at most 63 characters of [A-Za-z0-9._-], alphanumeric
 * at both ends): Node names are DNS subdomains up to 253 characters, so a longer one is cut and
 * given a hash of the whole.
 */
export function labelText(name: string): string {
  if (name.length <= 63) return name;
  return `${name.slice(0, 54).replace(/[-._]+$/, "")}-${hash32(name).toString(16).padStart(8, "0")}`;
}

/** The label a client node carries for each reflector it is assigned. */
export const assignedLabel = (reflector: string): string =>
  `${ASSIGNMENT_LABEL_PREFIX}${labelText(reflector)}`;

/** An assigned label's value: the node is given that reflector. */
export const ASSIGNED = "true";
/**
 * An assigned label's value while the node moves off that reflector: it still peers with it
 * (the BGPPeers select the label whatever its value), but the plan no longer gives it.
 */
export const LEAVING = "leaving";
/** Whether a label value of ours makes the node peer with that reflector. */
const peered = (value: string | undefined): boolean => value === ASSIGNED || value === LEAVING;

export interface AssignmentPeer {
  name: string;
  nodeSelector: string;
  peerSelector: string;
}

export interface Publication {
  /** each Node's labels of ours: a client's one per reflector, a reflector's its name */
  labels: Map<string, Record<string, string>>;
  /** a BGPPeer per reflector: its assigned nodes peer with it (and it with them, in reverse) */
  peers: AssignmentPeer[];
}

// The BGPPeer that meshes the reflectors: peerings.ts names it (it makes them non-clients there)
export { MESH_PEER } from "./peerings.js";

/**
 * The labels and BGPPeers that make calico/node peer each client with its assigned reflectors.
 * A BGPPeer selects a node by the presence of the reflector's label, so that a node moving off
 * it (LEAVING) keeps the session until its new ones are up.
 */
export function publication(plan: Plan): Publication {
  const reflectors = [...plan.load.keys()];
  const labels = new Map<string, Record<string, string>>();
  for (const r of reflectors) labels.set(r, { [REFLECTOR_LABEL]: labelText(r) });
  for (const [node, rs] of plan.nodes)
    labels.set(node, Object.fromEntries(rs.map((r) => [assignedLabel(r), ASSIGNED])));
  const bgpPeers = [...reflectors].sort().map((r) => ({
    name: `${ASSIGNMENT_PEER_PREFIX}${labelText(r)}`,
    nodeSelector: `has(${assignedLabel(r)})`,
    peerSelector: `${REFLECTOR_LABEL} == '${labelText(r)}'`,
  }));
  const mesh = `has(${REFLECTOR_LABEL})`;
  if (reflectors.length > 1) bgpPeers.push({ name: MESH_PEER, nodeSelector: mesh, peerSelector: mesh });
  return { labels, peers: bgpPeers };
}

/** The assignment labels of ours (given or leaving) that some Node carries. */
export function carriedLabels(nodes: Snapshot["nodes"]): Set<string> {
  const carried = new Set<string>();
  for (const n of nodes.values())
    for (const [k, v] of Object.entries(ownLabels(n.labels)))
      if (k !== REFLECTOR_LABEL && peered(v)) carried.add(k);
  return carried;
}

/**
 * Each client node's reflectors as its labels give them (ASSIGNED; LEAVING is on its way off),
 * among these reflectors: what the next plan starts from.
 */
export function currentAssignment(
  nodes: Iterable<{ name: string; labels: Readonly<Record<string, string>> }>,
  reflectors: readonly string[],
): Map<string, string[]> {
  const labels = reflectors.map((r) => [r, assignedLabel(r)] as const);
  const current = new Map<string, string[]>();
  for (const n of nodes) {
    const given = labels.filter(([, l]) => n.labels[l] === ASSIGNED).map(([r]) => r);
    if (given.length) current.set(n.name, given);
  }
  return current;
}

/** Our labels among a Node's (those with ASSIGNMENT_LABEL_PREFIX). */
export function ownLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith(ASSIGNMENT_LABEL_PREFIX)));
}

/**
 * One step of a Node's labels of ours (ownLabels) from `current` to `desired` that never leaves
 * it with fewer reflectors than it had: every desired label is set, and in the same write the old
 * ones become LEAVING (still peered with, no longer given); they are removed only when
 * `established` (the caller saw each desired reflector's session with the node up). Labels not
 * ours are not in either and never touched.
 */
export function labelStep(
  current: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
  established: boolean,
): { set: Record<string, string>; remove: string[] } {
  const set = Object.fromEntries(Object.entries(desired).filter(([k, v]) => current[k] !== v));
  const extra = Object.keys(current).filter((k) => !(k in desired));
  if (established) return { set, remove: extra };
  for (const k of extra) if (current[k] === ASSIGNED) set[k] = LEAVING;
  return { set, remove: [] };
}

// --- the writer's step: from the datastore as it is towards the plan ---------------------------

/**
 * What a reflector instance says of itself beside its lease: the client nodes that carry its
 * label in its own view of the datastore (how many, and a digest of their names), and those of
 * them whose session with it is not up (Established, and given its whole table and End-of-RIB:
 * a reflector just started sends nothing during its selection deferral). The writer trusts a
 * session as up only when the digest is the one it computes from its own view: the member has
 * seen the same labels.
 */
export interface MemberStatus {
  assigned: number;
  digest: string;
  pending: string[];
}

/**
 * The status of a live member that has not reported one yet: it matches no view, so its sessions
 * are neither up nor down (unknown) until it reports.
 */
export const UNREPORTED: MemberStatus = { assigned: -1, digest: "", pending: [] };

/** The digest of a set of names: the same whatever their order. */
export function namesDigest(names: Iterable<string>): string {
  return createHash("sha256")
    .update([...names].sort().join("\n"))
    .digest("hex")
    .slice(0, 16);
}

/** The client Nodes that carry this reflector's label in this view (given or leaving). */
function labelledFor(nodes: Snapshot["nodes"], reflector: string): string[] {
  const label = assignedLabel(reflector);
  return [...nodes.values()].filter((n) => peered(n.labels[label])).map((n) => n.name);
}

/**
 * A member's status from its view of the datastore and its sessions: `up(address)` tells whether
 * its session with that address is Established. A node is pending until every address of it has
 * a session up (calico/node peers over each family it has an address in).
 */
export function memberStatus(
  self: string,
  nodes: Snapshot["nodes"],
  up: (address: string) => boolean,
): MemberStatus {
  const assigned = labelledFor(nodes, self);
  const pending = assigned.filter((name) => {
    const n = nodes.get(name) as NodeResource;
    const addresses = [n.ipv4, n.ipv6].filter((a) => a !== undefined);
    return addresses.length === 0 || !addresses.every(up);
  });
  return { assigned: assigned.length, digest: namesDigest(assigned), pending: pending.sort() };
}

export type AssignmentWrite =
  | { kind: "labels"; node: string; set: Record<string, string>; remove: string[] }
  | { kind: "peer"; peer: AssignmentPeer }
  | { kind: "deletePeer"; name: string };

/** A key that names what a write changes: the same write twice has the same key. */
export const writeKey = (w: AssignmentWrite): string => JSON.stringify(w);

export interface AssignmentOptions extends PlanOptions {
  /** the Node label that gives a reflector's zone */
  zoneLabel: string;
}

export interface AssignmentStep {
  plan: Plan;
  /** in the order to make them: BGPPeers, then labels, then BGPPeers no Node needs any more */
  writes: AssignmentWrite[];
  /** nodes whose old reflectors stay until the new ones are up */
  heldBack: string[];
  /** what the operator should fix: members sharing a cluster ID */
  warnings: string[];
}

/**
 * The writes that take the datastore one step towards the plan of these members (the live ones
 * and those within their grace period, with the live ones' status; an empty map: assignment
 * switched off, and everything of ours goes). The reflectors are the members that are Calico
 * Nodes with a route reflector cluster ID; the clients, the Nodes without one.
 *
 * RFC 4456 §2 leaves a client with no reflector without routes, so a node never loses one it
 * is established with before its new ones are: its old labels go only once every reflector it is
 * given has its session up, or when every one it has is known to be down (a node that is down
 * loses nothing). A reflector whose status is older than the labels counts as neither. Labels
 * not ours are never written; ours are written only where they differ: run again on the result,
 * this gives nothing (idempotent).
 */
export function assignmentStep(
  snap: Pick<Snapshot, "nodes" | "peers">,
  members: ReadonlyMap<string, MemberStatus | undefined>,
  options: AssignmentOptions,
): AssignmentStep {
  const reflectorNodes = [...snap.nodes.values()].filter((n) => n.clusterId !== undefined);
  const planned = reflectorNodes
    .filter((n) => members.has(n.name))
    .map((n) => ({
      name: n.name,
      ...(n.labels[options.zoneLabel] ? { zone: n.labels[options.zoneLabel] } : {}),
    }));
  const clients = [...snap.nodes.values()].filter((n) => n.clusterId === undefined).map((n) => n.name);
  const given = currentAssignment(
    snap.nodes.values(),
    planned.map((r) => r.name),
  );
  const plan = planAssignment(planned, clients, options, given);
  const pub = publication(plan);
  // Every reflector a label of ours may name: the label's key back to the reflector.
  const byLabel = new Map(reflectorNodes.map((n) => [assignedLabel(n.name), n.name]));
  const digests = new Map(
    [...members.keys()].map((r) => [r, namesDigest(labelledFor(snap.nodes, r))] as const),
  );
  // A node's session with the reflector a label of ours names: up or down when the reflector,
  // live and seeing the same labels, says so; down when it is not live; otherwise unknown (a
  // status from before the last change, or none yet).
  const pending = new Map([...members].map(([r, st]) => [r, new Set(st?.pending ?? [])] as const));
  const session = (node: string, label: string): "up" | "down" | "unknown" => {
    const r = byLabel.get(label);
    const status = r === undefined ? undefined : members.get(r);
    if (r === undefined || status === undefined) return "down";
    if (status.digest !== digests.get(r) || !peered(snap.nodes.get(node)?.labels[label])) return "unknown";
    return pending.get(r)?.has(node) ? "down" : "up";
  };
  // a label some node still carries: its BGPPeer, and its reflector's label, stay meanwhile
  const carried = carriedLabels(snap.nodes);

  const peers: AssignmentWrite[] = [];
  const labels: AssignmentWrite[] = [];
  const removals: AssignmentWrite[] = [];
  const heldBack: string[] = [];
  const wanted = new Set(pub.peers.map((p) => p.name));
  for (const p of pub.peers) {
    const has = snap.peers.get(p.name);
    if (has?.nodeSelector?.text !== p.nodeSelector || has?.peerSelector?.text !== p.peerSelector)
      peers.push({ kind: "peer", peer: p });
  }
  for (const n of snap.nodes.values()) {
    const current = ownLabels(n.labels);
    let desired = pub.labels.get(n.name) ?? {};
    // a reflector leaving keeps its own label while nodes still peer with it
    const own = current[REFLECTOR_LABEL];
    if (own !== undefined && !pub.labels.has(n.name) && carried.has(assignedLabel(n.name)))
      desired = { [REFLECTOR_LABEL]: own };
    const assigned = Object.keys(desired).filter((k) => k !== REFLECTOR_LABEL);
    const have = Object.keys(current).filter((k) => k !== REFLECTOR_LABEL && peered(current[k]));
    const established =
      n.clusterId !== undefined ||
      assigned.every((k) => session(n.name, k) === "up") ||
      have.every((k) => session(n.name, k) === "down");
    const step = labelStep(current, desired, established);
    if (!established && Object.keys(current).some((k) => !(k in desired))) heldBack.push(n.name);
    if (Object.keys(step.set).length)
      labels.push({ kind: "labels", node: n.name, set: step.set, remove: step.remove });
    else if (step.remove.length)
      removals.push({ kind: "labels", node: n.name, set: {}, remove: step.remove });
  }
  const gone: AssignmentWrite[] = [];
  for (const name of snap.peers.keys()) {
    if (name === MESH_PEER && !wanted.has(name)) gone.push({ kind: "deletePeer", name });
    if (!name.startsWith(ASSIGNMENT_PEER_PREFIX) || wanted.has(name)) continue;
    const label = `${ASSIGNMENT_LABEL_PREFIX}${name.slice(ASSIGNMENT_PEER_PREFIX.length)}`;
    if (!carried.has(label)) gone.push({ kind: "deletePeer", name });
  }
  const warnings: string[] = [];
  const ids = new Map<string, string[]>();
  for (const n of reflectorNodes)
    if (members.has(n.name))
      ids.set(n.clusterId as string, [...(ids.get(n.clusterId as string) ?? []), n.name]);
  for (const [id, names] of ids)
    if (names.length > 1)
      warnings.push(
        `reflectors ${names.sort().join(", ")} share route reflector cluster ID ${id}: each drops the routes the others reflect (RFC 4456 §8), so nodes with none of them in common miss each other's routes; give each its own`,
      );
  return { plan, writes: [...peers, ...labels, ...removals, ...gone], heldBack: heldBack.sort(), warnings };
}
