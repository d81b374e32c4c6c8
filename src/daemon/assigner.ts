// The reflector assignment in a running instance (ASSIGN_REFLECTORS): it reports its status on its
// lease, and when elected writer it takes the datastore towards the plan (assignmentStep), at
// most so many writes a second. The grace period is kept here, with the clock: a member whose
// lease is gone stays in the plan that long, so a restart moves nothing. An instance with the
// assignment off only watches: once no member has been live for the grace period, it removes
// what the assignment wrote. Everything else is the pure step's.
import type { Logger } from "pino";
import {
  ASSIGNMENT_PEER_PREFIX,
  type AssignmentOptions,
  type AssignmentWrite,
  assignedLabel,
  assignmentStep,
  carriedLabels,
  MESH_PEER,
  type MemberStatus,
  memberStatus,
  ownLabels,
  type Plan,
  planMoves,
  UNREPORTED,
  writeKey,
} from "../datastore/assignment.js";
import type { Coordination } from "../datastore/coordination.js";
import type { Snapshot, Store } from "../datastore/index.js";
import { logEvent } from "../log/index.js";
import { Coalescer } from "./coalesce.js";

export interface AssignSettings extends AssignmentOptions {
  /** how long a member whose lease is gone keeps its nodes, ms */
  graceMs: number;
  /** the most writes a second */
  writesPerSecond: number;
}

/** a write made is not made again for this long: the datastore's watch brings it back first */
const RECENT_MS = 10_000;
/** the shortest time between two status reports */
const REPORT_MS = 1000;
/**
 * The writer writes once the plan's members have stayed the same this long: reflectors started
 * together (a rollout, a new cluster) join seconds apart, and each arrival would move nodes that
 * the next moves again.
 */
const SETTLE_MS = 3000;

export class Assigner {
  /** when each member was last seen live (ms) */
  private readonly seen = new Map<string, number>();
  private readonly recent = new Map<string, number>();
  private tokens: number;
  private refilledAt: number;
  private reported: { text: string; at: number } | undefined;
  private noMembersSince: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private warned = new Set<string>();
  /** what the last pass computed its step from */
  private lastInput: { snap: Snapshot; members: string; writer: boolean } | undefined;
  /** the plan's members, and since when they are these */
  private membership = { key: "", since: 0 };

  /** the plan as this instance computes it */
  plan: Plan | undefined;
  /** nodes whose old reflectors stay until their new ones are up */
  heldBack = 0;
  /** writes the last pass left for later (the rate limit) */
  pendingWrites = 0;
  /** reflector slots moved by plan changes, and writes by result: for the metrics */
  movedSlots = 0;
  readonly writes = { done: 0, conflict: 0, gone: 0, failed: 0 };

  constructor(
    private readonly store: Store,
    readonly coordination: Coordination,
    /** our Calico Node, when assignment is on here */
    private readonly self: string | undefined,
    private readonly settings: AssignSettings,
    private readonly log: Logger,
    /** whether our session with this address is up: Established, and its whole table sent */
    private readonly up: (address: string) => boolean,
    private readonly clock: () => number = Date.now,
  ) {
    this.tokens = settings.writesPerSecond;
    this.refilledAt = clock();
  }

  get on(): boolean {
    return this.self !== undefined;
  }

  async start(): Promise<void> {
    this.coordination.on("change", () => this.poke());
    this.store.on("change", () => this.poke());
    // the grace period, the rate limit and the status report come due with time
    this.timer = setInterval(() => this.poke(), 1000);
    // Off, it reads the membership only once there is something of ours to remove: an instance
    // that never had the assignment never reads Leases (nor needs the RBAC for them).
    if (this.on) await this.startCoordination();
  }

  private coordinating: Promise<void> | undefined;

  private startCoordination(): Promise<void> {
    this.coordinating ??= this.coordination.start();
    return this.coordinating;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.passes.cancel();
    clearInterval(this.timer);
    if (this.coordinating) await this.coordination.stop();
  }

  /** Something changed (a session, the datastore, the membership): a pass soon. */
  poke(): void {
    if (!this.stopped) this.passes.request();
  }

  private readonly passes = new Coalescer(
    () => this.pass(),
    1000,
    (e) => logEvent(this.log, "assignmentWriteFailed", { write: "(pass)", err: (e as Error).message }),
  );

  private async pass(): Promise<void> {
    if (!this.store.synced) return;
    const snap = this.store.snapshot();
    if (!this.on && anythingOurs(snap)) await this.startCoordination();
    if (!this.coordination.synced) return;
    const now = this.clock();
    if (this.self !== undefined) await this.report(snap, now);
    const members = this.members(snap, now);
    if (!members) return;
    // the same datastore (the store's snapshot is the same object until it changes), the same
    // members and statuses, nothing left to write, no writer change: the same step, nothing to do
    const input = { snap, members: JSON.stringify([...members]), writer: this.coordination.writer };
    const last = this.lastInput;
    this.lastInput = input;
    if (
      last?.snap === snap &&
      last.members === input.members &&
      last.writer === input.writer &&
      this.pendingWrites === 0 &&
      now - this.membership.since >= SETTLE_MS
    )
      return;
    const step = assignmentStep(snap, members, this.settings);
    if (this.plan) {
      const moved = planMoves(this.plan, step.plan);
      if (moved.slots) {
        this.movedSlots += moved.slots;
        logEvent(this.log, "assignmentPlan", {
          reflectors: step.plan.load.size,
          nodes: step.plan.nodes.size,
          moved: moved.nodes.length,
          slots: moved.slots,
        });
      }
    }
    this.plan = step.plan;
    this.heldBack = step.heldBack.length;
    for (const w of step.warnings)
      if (!this.warned.has(w)) logEvent(this.log, "peeringWarning", { warning: w });
    this.warned = new Set(step.warnings);
    const key = [...members.keys()].sort().join(",");
    if (key !== this.membership.key) this.membership = { key, since: now };
    if (this.self !== undefined && (!this.coordination.writer || now - this.membership.since < SETTLE_MS)) {
      this.pendingWrites = this.coordination.writer ? step.writes.length : 0;
      return;
    }
    if (this.self === undefined && step.writes.length)
      logEvent(this.log, "assignmentCleanup", {
        labels: step.writes.filter((w) => w.kind === "labels").length,
        peers: step.writes.filter((w) => w.kind === "deletePeer").length,
      });
    await this.apply(step.writes, step.heldBack.length, now);
  }

  private async report(snap: Snapshot, now: number): Promise<void> {
    const status = memberStatus(this.self as string, snap.nodes, this.up);
    const text = JSON.stringify(status);
    if (text === this.reported?.text || (this.reported && now - this.reported.at < REPORT_MS)) return;
    this.reported = { text, at: now };
    await this.coordination.report(status).catch((e: unknown) => {
      this.reported = undefined;
      logEvent(this.log, "assignmentLeaseFailed", { err: (e as Error).message });
    });
  }

  /**
   * The members the plan is made of: the live ones, and those gone less than the grace period
   * ago (a reflector our labels name counts as just gone when we first see it, as after we are
   * elected). Off: none, once no member has been live for the grace period; undefined: wait.
   */
  private members(snap: Snapshot, now: number): Map<string, MemberStatus | undefined> | undefined {
    const live = this.coordination.members;
    if (this.self === undefined) {
      if (live.size > 0 || !anythingOurs(snap)) {
        this.noMembersSince = undefined;
        return undefined;
      }
      this.noMembersSince ??= now;
      return now - this.noMembersSince >= this.settings.graceMs ? new Map() : undefined;
    }
    for (const name of live.keys()) this.seen.set(name, now);
    const named = labelled(snap);
    for (const r of named) if (!this.seen.has(r)) this.seen.set(r, now);
    const members = new Map<string, MemberStatus | undefined>();
    for (const [name, at] of this.seen) {
      if (live.has(name)) members.set(name, live.get(name) ?? UNREPORTED);
      else if (now - at < this.settings.graceMs) members.set(name, undefined);
      // past its grace, it is remembered while labels name it: they are not a new arrival
      else if (!named.has(name)) this.seen.delete(name);
    }
    return members;
  }

  /** The writes, in their order, as far as the rate allows; the rest on a later pass. */
  private async apply(writes: readonly AssignmentWrite[], heldBack: number, now: number): Promise<void> {
    const { writesPerSecond } = this.settings;
    this.tokens = Math.min(writesPerSecond, this.tokens + ((now - this.refilledAt) / 1000) * writesPerSecond);
    this.refilledAt = now;
    for (const [k, at] of this.recent) if (now - at > RECENT_MS) this.recent.delete(k);
    const todo = writes.filter((w) => !this.recent.has(writeKey(w)));
    const counts = { done: 0, conflicts: 0, failed: 0 };
    let made = 0;
    for (const w of todo) {
      if (this.tokens < 1 || this.stopped) break;
      this.tokens--;
      made++;
      try {
        const result = await this.coordination.write(w);
        this.writes[result]++;
        if (result === "conflict") counts.conflicts++;
        else {
          counts.done++;
          this.recent.set(writeKey(w), now);
        }
      } catch (e) {
        this.writes.failed++;
        counts.failed++;
        if (counts.failed === 1)
          logEvent(this.log, "assignmentWriteFailed", { write: writeKey(w), err: (e as Error).message });
      }
    }
    this.pendingWrites = todo.length - made;
    if (made) logEvent(this.log, "assignmentWrites", { ...counts, left: this.pendingWrites, heldBack });
  }
}

/** The reflectors our labels name on some Node. */
function labelled(snap: Snapshot): Set<string> {
  const carried = carriedLabels(snap.nodes);
  return new Set(
    [...snap.nodes.values()]
      .filter((n) => n.clusterId !== undefined && carried.has(assignedLabel(n.name)))
      .map((n) => n.name),
  );
}

/** Whether the datastore holds a label or a BGPPeer of the assignment's. */
function anythingOurs(snap: Snapshot): boolean {
  for (const n of snap.nodes.values()) if (Object.keys(ownLabels(n.labels)).length) return true;
  for (const name of snap.peers.keys())
    if (name.startsWith(ASSIGNMENT_PEER_PREFIX) || name === MESH_PEER) return true;
  return false;
}
