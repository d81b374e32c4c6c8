// Which reflectors each client node peers with (ASSIGN_REFLECTORS=R): rendezvous, or highest-
// random-weight, hashing over (node, reflector), so that every instance computes the same plan
// from the same membership and adding or removing one reflector moves only the nodes it gains or
// loses. A node's R reflectors are in different zones where the zones allow, and no reflector
// takes more than ceil(clients × R / reflectors) + slack nodes. Pure: no time, no I/O.

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
  return { labels, peers };
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
