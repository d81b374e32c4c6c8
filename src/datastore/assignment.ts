// Which reflectors each client node peers with (ASSIGN_REFLECTORS=R): rendezvous, or highest-
// random-weight, hashing over (node, reflector), so that every instance computes the same plan
// from the same membership and adding or removing one reflector moves only the nodes it gains or
// loses. A node's R reflectors are in different zones where the zones allow, and no reflector
// takes more than ceil(clients × R / reflectors) + slack nodes. Pure: no time, no I/O.
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
  /** how many nodes a reflector may take beyond its even share */
  slack: number;
}

export interface Plan {
  /** each client node's reflectors, by rank */
  nodes: Map<string, string[]>;
  /** each reflector's client nodes */
  load: Map<string, number>;
  /** the most nodes a reflector takes */
  capacity: number;
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

/**
 * The plan for these reflectors and client nodes. The order of either list does not matter:
 * the same members give the same plan.
 */
export function planAssignment(
  reflectors: readonly ReflectorMember[],
  clients: readonly string[],
  options: PlanOptions,
): Plan {
  const members = [...new Map(reflectors.map((r) => [r.name, r])).values()].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const nodes = [...new Set(clients)].filter((n) => !members.some((m) => m.name === n));
  const perNode = Math.min(options.perNode, members.length);
  const capacity = members.length ? Math.ceil((nodes.length * perNode) / members.length) + options.slack : 0;
  const zoneOf = (m: ReflectorMember) => m.zone ?? `\u0000${m.name}`;
  const load = new Map(members.map((m) => [m.name, 0]));
  const plan = new Map<string, string[]>();
  // Each node in an order of its own hash, so no name sorts first for the capacity; each takes
  // its reflectors by weight: first one per zone, then any, within the capacity.
  const order = nodes
    .map((n) => ({ n, h: hash32(n) }))
    .sort((a, b) => a.h - b.h || (a.n < b.n ? -1 : 1))
    .map((x) => x.n);
  for (const node of order) {
    const ranked = members
      .map((m) => ({ m, w: weight(node, m.name) }))
      .sort((a, b) => b.w - a.w || (a.m.name < b.m.name ? -1 : 1))
      .map((x) => x.m);
    const chosen: ReflectorMember[] = [];
    const zones = new Set<string>();
    const take = (m: ReflectorMember) => {
      chosen.push(m);
      zones.add(zoneOf(m));
      load.set(m.name, (load.get(m.name) ?? 0) + 1);
    };
    for (const pass of ["zones", "capacity", "any"] as const) {
      for (const m of ranked) {
        if (chosen.length === perNode) break;
        if (chosen.includes(m)) continue;
        if (pass !== "any" && (load.get(m.name) ?? 0) >= capacity) continue;
        if (pass === "zones" && zones.has(zoneOf(m))) continue;
        take(m);
      }
    }
    plan.set(
      node,
      chosen.map((m) => m.name),
    );
  }
  repair(members, plan, load, capacity, zoneOf);
  return { nodes: plan, load, capacity };
}

/**
 * The last nodes may find fewer than R reflectors with room (those with room are already
 * theirs) and take one beyond the capacity. Each such excess moves a node of that reflector, the
 * one that weighs it least, to a reflector with room that it does not have yet, in another zone
 * where one has room. Such a node always exists: a reflector with room that every node of a full
 * one also had would hold more than the full one. A move frees a slot and fills none beyond.
 */
function repair(
  members: readonly ReflectorMember[],
  plan: Map<string, string[]>,
  load: Map<string, number>,
  capacity: number,
  zoneOf: (m: ReflectorMember) => string,
): void {
  const byName = new Map(members.map((m) => [m.name, m]));
  for (const x of members) {
    while ((load.get(x.name) ?? 0) > capacity) {
      const holders = [...plan]
        .filter(([, rs]) => rs.includes(x.name))
        .sort(([a], [b]) => weight(a, x.name) - weight(b, x.name) || (a < b ? -1 : 1));
      let moved = false;
      for (const [node, rs] of holders) {
        const zones = new Set(
          rs.filter((r) => r !== x.name).map((r) => zoneOf(byName.get(r) as ReflectorMember)),
        );
        const room = members
          .filter((m) => !rs.includes(m.name) && (load.get(m.name) ?? 0) < capacity)
          .sort(
            (a, b) =>
              Number(zones.has(zoneOf(a))) - Number(zones.has(zoneOf(b))) ||
              weight(node, b.name) - weight(node, a.name) ||
              (a.name < b.name ? -1 : 1),
          );
        const y = room[0];
        if (!y) continue;
        rs[rs.indexOf(x.name)] = y.name;
        load.set(x.name, (load.get(x.name) ?? 0) - 1);
        load.set(y.name, (load.get(y.name) ?? 0) + 1);
        moved = true;
        break;
      }
      if (!moved) return; // no reflector has room: the capacity covers every slot, so never
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

/** The labels and BGPPeers that make calico/node peer each client with its assigned reflectors. */
export function publication(plan: Plan): Publication {
  const reflectors = [...plan.load.keys()];
  const labels = new Map<string, Record<string, string>>();
  for (const r of reflectors) labels.set(r, { [REFLECTOR_LABEL]: labelText(r) });
  for (const [node, rs] of plan.nodes)
    labels.set(node, Object.fromEntries(rs.map((r) => [assignedLabel(r), "true"])));
  const peers = [...reflectors].sort().map((r) => ({
    name: `${ASSIGNMENT_PEER_PREFIX}${labelText(r)}`,
    nodeSelector: `${assignedLabel(r)} == 'true'`,
    peerSelector: `${REFLECTOR_LABEL} == '${labelText(r)}'`,
  }));
  const mesh = `has(${REFLECTOR_LABEL})`;
  if (reflectors.length > 1) peers.push({ name: MESH_PEER, nodeSelector: mesh, peerSelector: mesh });
  return { labels, peers };
}

/** The assignment labels of ours ("true": a reflector given) that some Node carries. */
export function carriedLabels(nodes: Snapshot["nodes"]): Set<string> {
  const carried = new Set<string>();
  for (const n of nodes.values())
    for (const [k, v] of Object.entries(ownLabels(n.labels))) if (v === "true") carried.add(k);
  return carried;
}

/** Our labels among a Node's (those with ASSIGNMENT_LABEL_PREFIX). */
export function ownLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith(ASSIGNMENT_LABEL_PREFIX)));
}

/**
 * One step of a Node's labels of ours (ownLabels) from `current` to `desired` that never leaves
 * it with fewer reflectors than it had: every desired label is set beside the old ones; the old
 * ones are removed only when `established` (the caller saw each desired reflector's session with
 * the node up). Labels not ours are not in either and never touched.
 */
export function labelStep(
  current: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
  established: boolean,
): { set: Record<string, string>; remove: string[] } {
  const set = Object.fromEntries(Object.entries(desired).filter(([k, v]) => current[k] !== v));
  const extra = Object.keys(current).filter((k) => !(k in desired));
  return { set, remove: established ? extra : [] };
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

/** The client Nodes that carry this reflector's label in this view. */
function labelledFor(nodes: Snapshot["nodes"], reflector: string): string[] {
  const label = assignedLabel(reflector);
  return [...nodes.values()].filter((n) => n.labels[label] === "true").map((n) => n.name);
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
  const plan = planAssignment(planned, clients, options);
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
    if (status.digest !== digests.get(r) || snap.nodes.get(node)?.labels[label] !== "true") return "unknown";
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
    const have = Object.keys(current).filter((k) => k !== REFLECTOR_LABEL && current[k] === "true");
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
