// `routereflector assignment`: the plan of which reflectors each client node would peer with
// (src/datastore/assignment.ts), from the datastore as it is, and what a change of reflectors
// would move before anyone makes it. The reflectors are the Calico Nodes with a
// routeReflectorClusterID; their zone is a label of theirs.
import { parseArgs } from "node:util";
import { configOrError } from "../daemon/index.js";
import {
  currentAssignment,
  type Plan,
  planAssignment,
  planMoves,
  type ReflectorMember,
} from "../datastore/assignment.js";
import { parseWhole } from "../datastore/index.js";
import { UsageError } from "./codec-commands.js";
import { readOnce, table } from "./control-commands.js";

type Print = (line: string) => void;

export const ASSIGNMENT_USAGE = `usage: routereflector assignment [--per-node R] [--slack N] [--zone-label LABEL]
           [--with NAME:ZONE]... [--without NAME]... [--json] [the run flags...]
  the reflectors each client node is given, from the assignment its labels carry now and the
  datastore the run flags name: R each (ASSIGN_REFLECTORS, else 2), one per zone first, each
  reflector within its even share of nodes +- slack (ASSIGN_SLACK, else 2); --with and
  --without show what adding or removing a reflector would move`;

const OWN = {
  "per-node": { type: "string" },
  slack: { type: "string" },
  "zone-label": { type: "string" },
  with: { type: "string", multiple: true },
  without: { type: "string", multiple: true },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const count = (flag: string, text: string | undefined, fallback: number, min: number): number => {
  if (text === undefined) return fallback;
  const n = parseWhole(text, min);
  if (n === undefined)
    throw new UsageError(`--${flag}: not a whole number from ${min}: ${JSON.stringify(text)}`);
  return n;
};

/** Its own options apart from the run flags, which name the datastore (readVariables checks those). */
function split(argv: string[]): { own: string[]; run: string[] } {
  const { tokens } = parseArgs({ args: argv, options: OWN, strict: false, tokens: true });
  const mine = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== "option" || !(t.name in OWN)) continue;
    mine.add(t.index);
    // a value in the next argument belongs to it too
    if (OWN[t.name as keyof typeof OWN].type === "string" && !t.inlineValue) mine.add(t.index + 1);
  }
  return { own: argv.filter((_, i) => mine.has(i)), run: argv.filter((_, i) => !mine.has(i)) };
}

export async function assignmentCommand(argv: string[], print: Print, printError: Print): Promise<number> {
  const { own, run } = split(argv);
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OWN }>>["values"];
  try {
    ({ values } = parseArgs({ args: own, options: OWN, strict: true }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) {
    print(ASSIGNMENT_USAGE);
    return 0;
  }
  const config = configOrError(run, printError);
  if (!config) return 2;
  // the run's own settings (ASSIGN_REFLECTORS, ASSIGN_SLACK, ASSIGN_ZONE_LABEL) unless told
  const perNode = count("per-node", values["per-node"], config.assignment.perNode ?? 2, 1);
  const slack = count("slack", values.slack, config.assignment.slack, 0);
  const zoneLabel = values["zone-label"] ?? config.assignment.zoneLabel;
  const added = (values.with ?? []).map((w) => {
    const [name, zone] = w.split(":");
    if (!name) throw new UsageError(`--with: NAME or NAME:ZONE, not ${JSON.stringify(w)}`);
    return { name, ...(zone ? { zone } : {}) };
  });
  const removed = new Set(values.without ?? []);
  const read = await readOnce(config, printError);
  if (typeof read === "number") return read;
  const snap = read.store.snapshot();
  const reflectors: ReflectorMember[] = [];
  const clients: string[] = [];
  for (const n of snap.nodes.values()) {
    if (n.clusterId === undefined) clients.push(n.name);
    else reflectors.push({ name: n.name, ...(n.labels[zoneLabel] ? { zone: n.labels[zoneLabel] } : {}) });
  }
  for (const name of removed)
    if (!reflectors.some((r) => r.name === name))
      throw new UsageError(`--without: ${name} is not a reflector`);
  const options = { perNode, slack };
  // from the assignment the labels give now, as the writer plans
  const given = currentAssignment(
    snap.nodes.values(),
    reflectors.map((r) => r.name),
  );
  const now = planAssignment(reflectors, clients, options, given);
  const changed = added.length || removed.size;
  const members = [...reflectors.filter((r) => !removed.has(r.name)), ...added];
  const next = changed
    ? planAssignment(
        members,
        clients.filter((c) => !added.some((a) => a.name === c)),
        options,
        now.nodes,
      )
    : now;
  if (values.json) {
    print(
      JSON.stringify(
        {
          perNode,
          floor: next.floor,
          capacity: next.capacity,
          reflectors: members.map((r) => ({ ...r, nodes: next.load.get(r.name) ?? 0 })),
          nodes: Object.fromEntries(next.nodes),
          ...(changed ? { moved: planMoves(now, next) } : {}),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  if (!reflectors.length && !added.length) {
    print("No reflectors: no Calico Node has a routeReflectorClusterID.");
    return 0;
  }
  print(describe(next, members, perNode));
  if (changed) print(`\n${moves(now, next)}`);
  return 0;
}

function describe(plan: Plan, members: readonly ReflectorMember[], perNode: number): string {
  const reflectors = table(
    ["REFLECTOR", "ZONE", "NODES"],
    members.map((r) => [r.name, r.zone ?? "-", String(plan.load.get(r.name) ?? 0)]),
  );
  const nodes = table(
    ["NODE", "REFLECTORS"],
    [...plan.nodes].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, rs]) => [n, rs.join(", ")]),
  );
  return `${members.length} reflectors, ${perNode} per node, ${plan.floor} to ${plan.capacity} nodes each\n${reflectors}\n${plan.nodes.size} client nodes\n${nodes}`;
}

function moves(before: Plan, after: Plan): string {
  const m = planMoves(before, after);
  const lines = m.nodes.map(
    (n) => `  ${n}: ${(before.nodes.get(n) ?? []).join(", ")} -> ${(after.nodes.get(n) ?? []).join(", ")}`,
  );
  return `The change would move ${m.nodes.length} of ${after.nodes.size} nodes (${m.slots} reflector sessions):\n${lines.join("\n")}`;
}
