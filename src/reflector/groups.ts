// Update groups (after FRR's update-groups and BIRD's buckets): peers with the same outbound
// fingerprint share one encoded UPDATE stream; the same Buffers are written to every member.
// Prefixes that share an attribute set are packed together. A member that cannot keep up is
// not written to; it remembers which prefixes changed and catches up from the Loc-RIB. Pure:
// writes go to each member's Transport, and what needs the session or time (wait for a drain,
// reset a session, a route left out) goes out through GroupOutputs.
import {
  AFI,
  blockOctets,
  CeaseSubcode,
  type CodecContext,
  EncodeError,
  ErrorCode,
  encodeAttributes,
  encodeMessage,
  endOfRib,
  type Family,
  formatKey,
  MP_REACH_NLRI,
  maxLengthFor,
  type NotificationMessage,
  nlriSize,
  type OutboundBlock,
  type PathAttributes,
  type PrefixKey,
  UpdateBatch,
  WellKnownCommunity,
} from "../bgp/index.js";
import { notification } from "../fsm/index.js";
import { candidateOf, type Dest, type Path, type PeerRef, selectBest } from "../rib/index.js";
import { applyOperations, type ExportPolicy, type ExportVerdict, type RouteView, SENT } from "./policy.js";
import { mayAdvertise, outboundAttributes, type Receiver, type Role } from "./rules.js";

const { LLGR_STALE, NO_EXPORT } = WellKnownCommunity;

/** By default, a member whose socket holds more than this is behind: no more writes until it drains. */
export const HIGH_WATER = 16 * 1024 * 1024;

/** Where a member's UPDATEs go: its session's socket, or a simulated reader. */
export interface Transport {
  /** octets written and not yet taken by the peer (or the kernel) */
  readonly writableLength: number;
  write(chunk: Buffer): void;
}

/** What a group asks of the sessions and the logs, and how much it may write per step. */
export interface GroupOutputs {
  /** octets a step writes at most (see Group.pump) */
  sliceOctets(): number;
  /** tell the engine when what is queued to this member has drained (then Group.catchUp) */
  awaitDrain(m: Member): void;
  /** reset this member's session */
  close(m: Member, notification: NotificationMessage, reason: string): void;
  /** prefixes newly left out of the group's UPDATEs because their route is too large to send */
  leftOut(g: Group, prefixes: string[]): void;
}

export interface Member {
  /** the peer's address */
  address: string;
  transport: Transport;
  group: Group;
  /** has had the full table and End-of-RIB */
  synced: boolean;
  /** when it was last given everything at once: its table, or what it missed while behind (LocRib.stamp) */
  sentAllAt?: number;
  behind: boolean;
  /** prefixes that changed while behind, with the ADD-PATH identifiers withdrawn meanwhile */
  missed: Map<Dest, number[]>;
}

/** The cached outbound form of a path whose attributes cannot be encoded for a group. */
const UNENCODABLE: OutboundBlock = Object.freeze({ attrs: Buffer.alloc(0), reach: Buffer.alloc(0) });

/** In a step's budget (see Group.pump), each write to a member counts this many octets more. */
const DELIVERY_COST = 2048;
/** the budget without a host to set it */
const SLICE_OCTETS = 8 * 1024 * 1024;

/** Chunks for some members; for a change, the prefixes it covers (for members that are behind). */
interface Job {
  chunks: Buffer[];
  targets: Member[];
  next: number;
  changed?: readonly Dest[];
  withdrawn?: Map<Dest, number[]>;
}

/**
 * What an encoding is for. `change`: the group's stream at a flush, only what the group would be
 * sent differently from the last flush (Dest.flushed), withdrawals included, so an unchanged
 * re-announcement is not sent again and nothing is withdrawn that was never sent. `table`: the
 * current state, for a member that joins or asks for a refresh. `catch-up`: the current state of
 * what a member missed while behind, withdrawals included.
 */
export type EncodeMode = "change" | "table" | "catch-up";

/** Whether two outbound forms are the same: the same cached form, or equal octets. */
const same = (a: OutboundBlock | undefined, b: OutboundBlock): boolean =>
  a === b || (a?.attrs.equals(b.attrs) === true && a.reach.equals(b.reach));

/** Encoded UPDATEs, and the ADD-PATH identifiers they withdrew per prefix. */
export interface Encoded {
  chunks: Buffer[];
  withdrawn: Map<Dest, number[]>;
}

export class Group {
  readonly members = new Set<Member>();
  readonly maxLength: number;
  /**
   * The full table as of one flush, encoded once, and the prefixes changed since (with the ADD-PATH
   * identifiers withdrawn meanwhile): a member that joins is written the table, then the current
   * state of those prefixes, as a member that fell behind catches up. A peer that flaps does not
   * cost an encoding of the table each time it is back. Encoded anew once a quarter of its
   * prefixes changed.
   */
  private snapshot:
    | { table: Buffer[]; prefixes: number; since: Map<Dest, number[]>; notInTable: Set<Dest> }
    | undefined;
  /** outboundKey() per sender, built when its identifier or role changes rather than per path */
  private readonly senders = new WeakMap<PeerRef, { routerId: string; role: string; keys: string[] }>();
  /** prefixes whose route this group is not sent because it does not fit in one UPDATE */
  private readonly leftOut = new Set<Dest>();
  bytesEncoded = 0;
  bytesWritten = 0;

  constructor(
    readonly key: string,
    readonly receiver: Receiver,
    readonly families: Family[],
    readonly tx: CodecContext,
    private readonly clientToClient: boolean,
    /** ADD-PATH: send at most this many paths per prefix (RFC 7911 leaves the choice to us) */
    private readonly addPathMax = Number.POSITIVE_INFINITY,
    private readonly highWater = HIGH_WATER,
    private readonly outputs?: GroupOutputs,
    /** the members' BGPFilter export rules */
    private readonly exports?: ExportPolicy,
  ) {
    this.maxLength = maxLengthFor(tx);
  }

  /** Whether writes are still queued, or a member that fell behind has yet to catch up. */
  get busy(): boolean {
    return this.queue.length > 0 || [...this.members].some((m) => m.behind);
  }

  /** Octets queued and not yet written, counted once per member they are for. */
  get queuedOctets(): number {
    let n = 0;
    for (const job of this.queue) {
      let size = 0;
      for (const c of job.chunks) size += c.length;
      n += size * (job.targets.length - job.next);
    }
    return n;
  }

  /** Whether writes are queued: the next step of the engine goes on with them (pump). */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** The stream was not written (no member was synced): the snapshot no longer leads to the current table. */
  invalidate(): void {
    this.snapshot = undefined;
  }

  /** The paths of a prefix this group advertises: the best, or with ADD-PATH the best N eligible. */
  paths(d: Dest): Path[] {
    if (!this.tx.addPath[d.family]) {
      const best = this.best(d);
      return best && this.outbound(best, d) ? [best] : [];
    }
    return this.addPaths(d, d.paths).paths;
  }

  /**
   * With ADD-PATH: of these paths of a prefix (now, or as last flushed), the ones sent (the best N
   * eligible that fit), and whether one was left out for its size.
   */
  private addPaths(d: Dest, all: readonly Path[]): { paths: Path[]; leftOut: boolean } {
    const eligible = all.filter((p) => this.eligible(p, d));
    const fitting = eligible.filter((p) => this.outbound(p, d));
    const paths = fitting.length <= this.addPathMax ? fitting : rank(fitting).slice(0, this.addPathMax);
    return { paths, leftOut: fitting.length < eligible.length };
  }

  /**
   * Why this group is not sent this path of the prefix, in words; undefined when it is (for
   * `why`: the rules of paths(), one by one).
   */
  whyNot(p: Path, d: Dest): string | undefined {
    const from = p.peer.role as Role;
    if (!mayAdvertise(from, this.receiver.role, this.clientToClient)) {
      return from === "client"
        ? "client-to-client reflection is off, and both are clients (RFC 4456 §6)"
        : `learned from a non-client, and ${this.receiver.role === "non-client" ? "this peer is one too" : "not sent to it"} (RFC 4456 §6)`;
    }
    if (this.receiver.role === "ebgp" && this.unaware(p))
      return "long-lived stale, and this external peer does not know LLGR (RFC 9494 §4.3, §4.6)";
    if (this.exports && !this.verdict(p, d).accept) return this.exports.explain(this.view(p, d));
    if (!this.outbound(p, d))
      return "too large for one UPDATE to this peer once reflected: left out (RFC 4271 §9.2)";
    if (!this.tx.addPath[d.family])
      return p === d.best ? undefined : "not the best path, and this peer gets only the best (no ADD-PATH)";
    if (!this.addPaths(d, d.paths).paths.includes(p))
      return `not among the best ${this.addPathMax} (the ADD-PATH limit)`;
    return undefined;
  }

  /** How many prefixes of each family this group is not sent because their route is too large. */
  leftOutCounts(): Record<Family, number> {
    const counts: Record<Family, number> = { ipv4: 0, ipv6: 0 };
    for (const d of this.leftOut) counts[d.family]++;
    return counts;
  }

  /** Without ADD-PATH: the best path, when this group may be sent it. */
  private best(d: Dest): Path | undefined {
    return d.best && this.eligible(d.best, d) ? d.best : undefined;
  }

  /** Whether this group was sent a path of the prefix at the last flush. */
  private hadAtFlush(d: Dest): boolean {
    if (!this.tx.addPath[d.family]) return this.flushed(d) !== undefined;
    return this.addPaths(d, d.flushedPaths).paths.length > 0;
  }

  /** Without ADD-PATH: the outbound form of the best path as last flushed, when this group was sent it. */
  private flushed(d: Dest): OutboundBlock | undefined {
    return d.flushed && this.eligible(d.flushed, d) ? this.outbound(d.flushed, d) : undefined;
  }

  /**
   * Whether the members may be sent this path: RFC 4456 §6; RFC 9494 §4.3 and §4.6, a long-lived
   * stale path goes to an external peer only if it knows LLGR; then their export rules.
   */
  private eligible(p: Path, d: Dest): boolean {
    return (
      mayAdvertise(p.peer.role as Role, this.receiver.role, this.clientToClient) &&
      !(this.receiver.role === "ebgp" && this.unaware(p)) &&
      this.verdict(p, d).accept
    );
  }

  /** A long-lived stale path, for members that do not know LLGR. */
  private unaware(p: Path): boolean {
    return !this.receiver.llgrAware && (p.attrs.attributes.communities?.includes(LLGR_STALE) ?? false);
  }

  /** What the export rules decide for this path of the prefix. */
  private verdict(p: Path, d: Dest): ExportVerdict {
    return this.exports ? this.exports.decide(this.view(p, d)) : SENT;
  }

  /** The path of the prefix as the export policy looks at it. */
  private view(p: Path, d: Dest): RouteView {
    return {
      prefix: d.key,
      key: d,
      attributes: p.attrs.attributes,
      internal: this.receiver.role !== "ebgp",
    };
  }

  /**
   * Whether one UPDATE can carry this path's prefix with its outbound attributes. Reflection adds
   * ORIGINATOR_ID and CLUSTER_LIST, and a 2-octet AS_PATH grows when re-encoded with 4-octet
   * ASNs, so a route that fitted as received may not fit for this group (4,096 octets, or 65,535
   * with RFC 8654 extended messages). RFC 4271 §9.2 and RFC 7606 leave such a route out for
   * this peer: it is not advertised, and withdrawn where it was. The outbound form of the path,
   * or undefined when it does not fit.
   */
  private outbound(p: Path, d: Dest): OutboundBlock | undefined {
    // what the export policy changes in it (BGPFilter operations, prefix advertisements)
    const block = this.block(p, this.verdict(p, d), d.family);
    const fits =
      block !== UNENCODABLE &&
      blockOctets(block) + nlriSize(d.key, this.tx.addPath[d.family]) <= this.maxLength;
    return fits ? block : undefined;
  }

  /** Notes whether a prefix's route is left out, collecting the prefixes newly left out. */
  private noteLeftOut(d: Dest, left: boolean, newly: string[]): void {
    if (left) {
      if (!this.leftOut.has(d)) newly.push(formatKey(d.key));
      this.leftOut.add(d);
    } else if (this.leftOut.size) {
      this.leftOut.delete(d);
    }
  }

  /**
   * Whether the table as of the last flush is encoded and near enough to the current one, with
   * `dirty` prefixes changed since that flush: fullTable then needs no flush first. One that has
   * fallen a quarter of its prefixes behind is dropped (as a flush would drop it).
   */
  tableUsable(dirty: number): boolean {
    const s = this.snapshot;
    if (s && s.since.size + dirty > s.prefixes / 4) this.snapshot = undefined;
    return this.snapshot !== undefined;
  }

  /**
   * The table of these families, then End-of-RIB for each (RFC 4724 §2), as of now: the table as
   * of the last flush, then the current state of what changed since, `dirty` (the prefixes not
   * flushed yet) included. The next flush may send a joiner some of it again, which changes
   * nothing at the peer. Without a usable table (tableUsable) the caller flushes first: a table
   * is made as of a flush, and a session that comes up while there is one need not make every
   * member be written a flush.
   */
  fullTable(dests: () => Iterable<Dest>, dirty: ReadonlySet<Dest>): Buffer[] {
    if (!this.snapshot) {
      const all = [...dests()].filter((d) => this.families.includes(d.family));
      const table = this.encode(all, "table").chunks;
      this.snapshot = { table, prefixes: all.length, since: new Map(), notInTable: new Set() };
    }
    const { table, since, notInTable } = this.snapshot;
    // what changed since, but for prefixes the table did not have and nothing has now
    const catchUp = [...since.keys()].filter((d) => !notInTable.has(d) || this.paths(d).length > 0);
    let behind = since;
    if (dirty.size) {
      // and what changed since the last flush: ADD-PATH withdraws what the last flush had of it
      behind = new Map(since);
      for (const d of dirty) {
        if (!this.families.includes(d.family)) continue;
        // (one the table did not have, as of the last flush, and nothing has now: not sent)
        if (!since.has(d) && (this.hadAtFlush(d) || this.paths(d).length > 0)) catchUp.push(d);
        const flushed = this.sentIds(d, d.flushedPaths);
        if (flushed.length) behind.set(d, [...(since.get(d) ?? []), ...flushed]);
      }
    }
    const changed = catchUp.length ? this.encode(catchUp, "catch-up", behind).chunks : [];
    return [...table, ...changed, ...this.families.map((f) => encodeMessage(endOfRib(AFI[f], 1), this.tx))];
  }

  /** With ADD-PATH, the identifiers of these paths of a prefix this group is sent (else none). */
  private sentIds(d: Dest, paths: readonly Path[]): number[] {
    return this.tx.addPath[d.family] ? this.addPaths(d, paths).paths.map((p) => p.id) : NO_IDS;
  }

  /**
   * UPDATEs for the current state of these prefixes, for what `mode` says. `behind` (catch-up):
   * the ADD-PATH identifiers withdrawn while the member was behind.
   */
  encode(dests: Iterable<Dest>, mode: EncodeMode, behind?: Map<Dest, number[]>): Encoded {
    const change = mode === "change";
    const withdrawals = change || mode === "catch-up";
    const withdrawn = new Map<Dest, number[]>();
    const batch = new UpdateBatch(this.maxLength);
    /** (Path Identifier, prefix) pairs: announced per outbound form, withdrawn per family */
    const announced = new Map<OutboundBlock, (number | PrefixKey)[]>();
    const gone4: (number | PrefixKey)[] = [];
    const gone6: (number | PrefixKey)[] = [];
    const newlyLeftOut: string[] = [];
    for (const d of dests) {
      if (!this.families.includes(d.family)) continue;
      if (!this.tx.addPath[d.family]) {
        // One path per prefix, the best, or a withdrawal. This runs for every prefix of a full
        // table, so it builds no arrays.
        const best = this.best(d);
        const out = best && this.outbound(best, d);
        this.noteLeftOut(d, best !== undefined && out === undefined, newlyLeftOut);
        if (change) {
          const was = this.flushed(d);
          if (out ? same(was, out) : was === undefined) continue;
        }
        if (out) push(announced, out, 0, d.key);
        else if (withdrawals) (d.family === "ipv4" ? gone4 : gone6).push(0, d.key);
        continue;
      }
      const { paths, leftOut } = this.addPaths(d, d.paths);
      this.noteLeftOut(d, leftOut, newlyLeftOut);
      // A change sends only the paths whose outbound form differs from the last flush.
      const before = change ? this.addPaths(d, d.flushedPaths).paths : [];
      for (const p of paths) {
        const out = this.outbound(p, d)!;
        const was = before.find((b) => b.id === p.id);
        if (was && same(this.outbound(was, d), out)) continue;
        push(announced, out, p.id, d.key);
      }
      const ids = change ? before.map((b) => b.id) : (behind?.get(d) ?? []);
      const gone = ids.filter((id) => !paths.some((p) => p.id === id));
      if (change && gone.length) withdrawn.set(d, gone);
      if (!withdrawals) continue;
      for (const id of gone) (d.family === "ipv4" ? gone4 : gone6).push(id, d.key);
    }
    const { addPath } = this.tx;
    if (gone4.length) batch.withdraw(AFI.ipv4, gone4, addPath.ipv4);
    if (gone6.length) batch.withdraw(AFI.ipv6, gone6, addPath.ipv6);
    for (const [block, prefixes] of announced)
      batch.announce(block, prefixes, block.reach.length ? addPath.ipv6 : addPath.ipv4);
    const chunks = batch.finish();
    for (const c of chunks) this.bytesEncoded += c.length;
    if (newlyLeftOut.length) this.outputs?.leftOut(this, newlyLeftOut);
    return { chunks, withdrawn };
  }

  /**
   * What outbound attributes depend on besides the attribute set: this group, and the sender
   * (its role, and its identifier when it becomes the ORIGINATOR_ID).
   */
  private outboundKey(p: Path): string {
    const { routerId } = p;
    const { role } = p.peer;
    let s = this.senders.get(p.peer);
    if (s?.routerId !== routerId || s.role !== role) {
      s = { routerId, role, keys: [`${this.key}||${role}`, `${this.key}|${routerId}|${role}`] };
      this.senders.set(p.peer, s);
    }
    return s.keys[p.attrs.attributes.originatorId ? 0 : 1]!;
  }

  /**
   * The outbound form of a path for this group and family, encoded once and cached on its
   * attribute set: the attributes, and for IPv6 MP_REACH_NLRI up to its NLRI. UNENCODABLE when an
   * attribute outgrows its 2-octet length, or an IPv6 path has no next hop.
   */
  private block(p: Path, v: ExportVerdict, family: Family): OutboundBlock {
    // (no string is built per call unless the export rules changed the path)
    const key = v.key ? `${this.outboundKey(p)}${v.key}` : this.outboundKey(p);
    const cache = family === "ipv4" ? p.attrs.outbound4 : p.attrs.outbound6;
    let block = cache.get(key);
    if (!block) {
      const { mpReach, mpUnreach, ...rest } = this.transform(p, v);
      const attrs = tryEncode(() => encodeAttributes(rest, this.tx));
      const reach =
        family === "ipv4"
          ? Buffer.alloc(0)
          : mpReach && tryEncode(() => MP_REACH_NLRI.encode({ ...mpReach, nlri: [] }, this.tx));
      block = attrs && reach ? { attrs, reach } : UNENCODABLE;
      cache.set(key, block);
    }
    return block;
  }

  /**
   * The outbound attributes: after the export rule's operations, then RFC 4271 / RFC 4456's
   * changes. RFC 9494 §4.6 (partial deployment): a long-lived stale path goes to an
   * internal peer that does not know LLGR with NO_EXPORT and LOCAL_PREF 0.
   */
  private transform(p: Path, v: ExportVerdict): PathAttributes {
    let attrs = p.attrs.attributes;
    if (this.unaware(p)) {
      const communities = attrs.communities ?? [];
      attrs = {
        ...attrs,
        localPref: 0,
        communities: communities.includes(NO_EXPORT) ? communities : [...communities, NO_EXPORT],
      };
    }
    return outboundAttributes(
      applyOperations(attrs, v.ops),
      { role: p.peer.role as Role, routerId: p.routerId },
      this.receiver,
    );
  }

  /** Writes to every synced member that keeps up; the others note what they missed. */
  send({ chunks, withdrawn }: Encoded, changed: readonly Dest[]): void {
    const targets = [...this.members].filter((m) => m.synced);
    this.enqueue({ chunks, targets, next: 0, changed, withdrawn });
    const s = this.snapshot;
    if (!s) return;
    // Encoded anew once a quarter of its prefixes changed (or may have: a flush of a whole table
    // is not noted first).
    if (s.since.size + changed.length > s.prefixes / 4) {
      this.snapshot = undefined;
      return;
    }
    // Before the flush settles, a prefix's flushed state is still what it was when the table was made.
    for (const d of changed) if (!s.since.has(d) && !this.hadAtFlush(d)) s.notInTable.add(d);
    note(s.since, changed, withdrawn);
  }

  /** Writes to one member (its full table, a refresh, a catch-up), after what is queued for it. */
  write(m: Member, chunks: Buffer[]): void {
    this.enqueue({ chunks, targets: [m], next: 0 });
  }

  /**
   * Writes go out in order, a slice per step (sliceOctets): a flush to 15,000 members copies
   * gigabytes, and keepalives and hold timers must not wait for it. What fits in a slice is
   * written at once; the rest waits for the next step (the engine's deadline is then now).
   */
  private readonly queue: Job[] = [];
  private pumping = false;

  private enqueue(job: Job): void {
    this.queue.push(job);
    this.pump();
  }

  /** Writes one slice of what is queued. */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    let budget = this.outputs?.sliceOctets() ?? SLICE_OCTETS;
    try {
      while (this.queue.length) {
        const job = this.queue[0] as Job;
        while (job.next < job.targets.length) {
          budget -= this.deliver(job.targets[job.next++] as Member, job) + DELIVERY_COST;
          if (budget <= 0) return;
        }
        this.queue.shift();
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Writes a job to one member; the octets written. */
  private deliver(m: Member, job: Job): number {
    // A member that left (or whose session was replaced) gets nothing more of this stream.
    if (!this.members.has(m)) return 0;
    if (m.behind && job.changed) {
      this.miss(m, job);
      return 0;
    }
    let octets = 0;
    for (const c of job.chunks) {
      // A change stops at the high-water mark, not at the end of the flush: however large the
      // flush (they grow with the load), the queue stays within one chunk of the mark. What the
      // member missed of it is caught up from the Loc-RIB, as when it was behind already.
      if (job.changed && m.transport.writableLength > this.highWater) {
        this.fallBehind(m);
        this.miss(m, job);
        return octets;
      }
      m.transport.write(c);
      octets += c.length;
      this.bytesWritten += c.length;
    }
    if (m.transport.writableLength > this.highWater) this.fallBehind(m);
    return octets;
  }

  private fallBehind(m: Member): void {
    if (m.behind) return;
    m.behind = true;
    this.outputs?.awaitDrain(m);
  }

  /** Notes the prefixes of a change a member that is behind did not get, with the ADD-PATH identifiers withdrawn. */
  private miss(m: Member, job: Job): void {
    note(m.missed, job.changed ?? [], job.withdrawn);
  }

  /** A member that drained gets the current state of what changed while it was behind. */
  catchUp(m: Member): void {
    if (!this.members.has(m) || !m.behind) return;
    m.behind = false;
    const missed = new Map(m.missed);
    m.missed.clear();
    try {
      this.write(m, this.encode(missed.keys(), "catch-up", missed).chunks);
    } catch (e) {
      this.fail(`internal error catching up: ${e instanceof Error ? e.message : String(e)}`, [m]);
    }
  }

  /**
   * After a fault in the outbound work (a bug: what peers send is checked when it arrives):
   * these members leave the group and their sessions are reset, Cease / Out of Resources, and
   * nothing else is touched; they resynchronise when they are back.
   */
  fail(reason: string, members: Member[] = [...this.members]): void {
    for (const m of members) {
      this.members.delete(m);
      this.outputs?.close(m, notification(ErrorCode.CEASE, CeaseSubcode.OUT_OF_RESOURCES), reason);
    }
  }
}

/** Adds changed prefixes to a catch-up list, with the ADD-PATH identifiers they withdrew. */
function note(list: Map<Dest, number[]>, changed: readonly Dest[], withdrawn?: Map<Dest, number[]>): void {
  for (const d of changed) {
    const gone = withdrawn?.get(d);
    const ids = list.get(d);
    // (no array per prefix unless identifiers were withdrawn: the lists are read, never changed)
    if (gone?.length) list.set(d, ids ? [...ids, ...gone] : gone.slice());
    else if (!ids) list.set(d, NO_IDS);
  }
}

const NO_IDS: number[] = Object.freeze([]) as unknown as number[];

/** Paths in the order of the decision process: the best, then the best of the rest, ... */
function rank(paths: Path[]): Path[] {
  const left = [...paths];
  const out: Path[] = [];
  while (left.length) {
    const best = selectBest(left, candidateOf)!;
    out.push(best);
    left.splice(left.indexOf(best), 1);
  }
  return out;
}

/** The result of an encoder, or undefined when what it was given cannot be encoded. */
function tryEncode(encode: () => Buffer): Buffer | undefined {
  try {
    return encode();
  } catch (e) {
    if (e instanceof EncodeError) return undefined;
    throw e;
  }
}

function push(
  map: Map<OutboundBlock, (number | PrefixKey)[]>,
  block: OutboundBlock,
  id: number,
  key: PrefixKey,
): void {
  let list = map.get(block);
  if (!list) {
    list = [];
    map.set(block, list);
  }
  list.push(id, key);
}
