// How reflector instances find each other for the assignment (ASSIGN_REFLECTORS), through the
// datastore the cluster already runs: each member holds a lease that carries its status, live
// leases are the membership, and one member, elected through the same primitive, is the writer.
// etcd: an etcd lease and etcd3's election (etcd-coordination.ts); Kubernetes: coordination.k8s.io
// Leases (kubernetes-coordination.ts). Writes are compare-and-swap and touch only what is ours.
import type { EventEmitter } from "node:events";
import type { AssignmentWrite, MemberStatus } from "./assignment.js";

/** Where the members' leases live, and the writer's election. */
export const MEMBER_LEASE_PREFIX = "routereflector-member-";
export const WRITER_LEASE = "routereflector-assignment-writer";

export interface Coordination extends EventEmitter<{ change: [] }> {
  /** the members whose lease is live, with the status each last reported (none yet: undefined) */
  readonly members: ReadonlyMap<string, MemberStatus | undefined>;
  /** this instance is the elected writer */
  readonly writer: boolean;
  /** the membership has been read at least once */
  readonly synced: boolean;
  /** starts watching the membership; with a name, joins it (a lease) and stands for writer */
  start(): Promise<void>;
  /** our status, carried by our lease */
  report(status: MemberStatus): Promise<void>;
  /**
   * Makes one write against the object as the datastore has it now: "done" (also when there
   * was nothing to change), "conflict" (it changed meanwhile; the next pass sees the new one),
   * or "gone" (the object is not there).
   */
  write(w: AssignmentWrite): Promise<"done" | "conflict" | "gone">;
  /** leaves: the lease is given up (the grace period covers a restart) and the watch ends */
  stop(): Promise<void>;
}

/** A Node's labels after a write's set and remove. */
export function withLabels(
  labels: Readonly<Record<string, string>>,
  w: Extract<AssignmentWrite, { kind: "labels" }>,
): Record<string, string> {
  const out = { ...labels, ...w.set };
  for (const k of w.remove) delete out[k];
  return out;
}

/** Whether two label sets are the same. */
export const sameLabels = (
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
