// Simulated Calico nodes for the load benchmark: a child process (fork) holding many BGP sessions
// over TCP, each node from its own loopback address, made of our codec, with a session to each
// reflector of the plan. Each node announces k /26 routes with its own NEXT_HOP (or, in fanout,
// node 0 alone announces a table of /32s and the others receive it), counts what each
// reflector sends it in a bitmap, and notes when it holds every other node's routes (from any
// reflector: its table is the union). A sample decodes every UPDATE and checks each session's
// whole table. It reports over IPC; its clock is the one convergence is measured with.
//
//   <- {type:"start", ...Plan}           -> {type:"progress"} every 250 ms
//   <- {type:"announce"}                 every node sends its routes; convergence times from now
//   <- {type:"flap", share, ms}          that share of the nodes close and reopen their sessions
//   <- {type:"report"}                   -> {type:"report", ...Report}
//   <- {type:"stop"}                     closes every session and exits
import net from "node:net";
import { pino } from "pino";
import {
  attributeKey,
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  endOfRib,
  KEEPALIVE,
  type OpenMessage,
  type UpdateMessage,
} from "../../src/bgp/index.js";
import { Coalescer } from "../../src/daemon/coalesce.js";
import { EtcdSource } from "../../src/datastore/etcd.js";
import { computePeeringsOfNodes, Store } from "../../src/datastore/index.js";
import { KubernetesSource } from "../../src/datastore/kubernetes.js";
import {
  clientAddress,
  clientAddress6,
  clientNextHop,
  clientNextHop6,
  fanoutPrefixOf,
  prefix6Of,
  prefixOf,
} from "./plan.js";
import {
  type Located,
  locateRoutes,
  matchedRun,
  nlriImage,
  POP,
  type RouteLayout,
  routeLayout,
  routeOctets,
  startsWith,
} from "./wire.js";

export interface Plan {
  /** the reflectors: every node has a session with each (unless `etcd` is given) */
  targets: string[];
  /**
   * Peer as calico/node does: each node, the Calico Node `node-<index>`, has a session with each
   * peer it computes from this etcd's datastore (computePeerings), made and ended as that changes.
   */
  etcd?: string[];
  /** the same from the Kubernetes API server this kubeconfig names */
  kubeconfig?: string;
  /** the second octet of the nodes' loopback addresses (clientAddress), 1 unless set */
  addressBase?: number;
  port: number;
  /** global index of our first node, and how many we run */
  first: number;
  count: number;
  /** nodes in the whole run, and routes per node */
  total: number;
  k: number;
  /** fanout: node 0 announces this many /32s (fanoutPrefixOf) and the others none; k is unused */
  sourceRoutes?: number;
  /** 6: IPv6 sessions (clientAddress6, to IPv6 targets) carrying IPv6 /122s in MP_REACH_NLRI */
  family?: 4 | 6;
  holdTime: number;
  asn: number;
  gracefulRestart: boolean;
  /** every sampleEvery-th node decodes and checks everything it receives */
  sampleEvery: number;
  /** nodes connecting at once */
  connectBurst: number;
}

export interface Report {
  established: number;
  /** ms from announce until the node held every other node's routes; null: never */
  convergedMs: (number | null)[];
  /** longest silence from the reflector on an Established session, ms */
  maxGapMs: number;
  bytesIn: number;
  notifications: string[];
  /** every NOTIFICATION and socket error, counted by reflector and kind ("127.0.50.2 6/2") */
  notificationCounts: Record<string, number>;
  /** sampled nodes whose table is exactly right (prefix set, next hops, ORIGINATOR_ID) */
  sampleChecked: number;
  sampleErrors: string[];
  /** prefixes held by the node holding the fewest / most others' routes (of nodes sent any) */
  minHeld: number;
  maxHeld: number;
  /** prefixes received that no node announced, all nodes */
  unexpected: number;
  /** the fewest others' routes any node sent any held after converging */
  lowWater: number;
  /** that node, when, and its sessions then */
  lowWaterAt: string;
  /** nodes whose session with every reflector holds every other node's routes */
  complete: number;
  /** sessions the flapping nodes dropped */
  flaps: number;
  /** nodes by how many sessions they have Established ("2": 40), and by which reflectors */
  sessionsUp: Record<string, number>;
  /** each node's Established sessions' reflectors, in datastore mode */
  peersOf: Record<string, string[]>;
  /** how many times the nodes' peerings were computed (datastore mode) */
  peeringRuns: number;
}

/** A node's session with one reflector: what that reflector gave it. */
class Session {
  socket: net.Socket | undefined;
  established = false;
  lastIn = 0;
  /** when it last sent a KEEPALIVE */
  lastKeepalive = 0;
  /** others' prefixes this reflector gave: one bit per prefix index */
  readonly bits: Buffer;
  held = 0;
  /** the start of a message that has not fully arrived */
  pending: Buffer | undefined;
  /** RFC 4724 receiving speaker: after the session dropped, the routes kept until End-of-RIB */
  fresh: Uint8Array | undefined;
  /** the reflector's graceful restart capability on this session: the run's family listed, and its F bit */
  peerGr: { listed: boolean; forwarding: boolean } | undefined;
  /** the reflector sent a NOTIFICATION on this session (without the N bit, GR does not apply) */
  notified = false;
  /** sampled: by route index, next hop and originator from the decoded attributes (an array: a Map cost more than the scan) */
  table: (string | undefined)[] | undefined;
  keepalive: NodeJS.Timeout | undefined;
  openWait: NodeJS.Timeout | undefined;
  lastClose = "";
  /** its peering is gone (datastore mode): it is not made again */
  removed = false;

  constructor(
    readonly node: Node,
    readonly target: string,
    size: number,
    sampled: boolean,
  ) {
    this.bits = Buffer.alloc(size);
    if (sampled) this.table = new Array<string | undefined>(size * 8).fill(undefined);
  }
}

class Node {
  sessions: Session[];
  maxGapMs = 0;
  bytesIn = 0;
  /** others' prefixes held from any reflector: how many sessions hold each (with one session, its bitmap says) */
  readonly holders: Uint8Array | undefined;
  held = 0;
  convergedAt: number | null = null;
  /** its routes as UPDATEs, encoded once */
  private updates: Buffer[] | undefined;
  /** prefixes received that no node announced */
  unexpected = 0;
  /** the fewest others' routes held since convergence */
  lowWater = Number.POSITIVE_INFINITY;
  /** when it was reached, and each session's state then */
  lowWaterAt = "";

  constructor(
    readonly index: number,
    readonly plan: Plan,
    sampled: boolean,
  ) {
    const fanout = plan.sourceRoutes !== undefined;
    this.ownFrom = fanout ? 0 : index * plan.k;
    this.ownTo = fanout ? (index === 0 ? routeCount(plan) : 0) : this.ownFrom + plan.k;
    this.expected = routeCount(plan) - (this.ownTo - this.ownFrom);
    const size = Math.ceil(routeCount(plan) / 8);
    if (plan.targets.length > 1 || plan.etcd || plan.kubeconfig)
      this.holders = new Uint8Array(routeCount(plan));
    this.sessions =
      plan.etcd || plan.kubeconfig ? [] : plan.targets.map((t) => new Session(this, t, size, sampled));
    this.size = size;
    this.sampled = sampled;
  }

  readonly size: number;
  readonly sampled: boolean;
  /** its own routes: route indices [ownFrom, ownTo) */
  readonly ownFrom: number;
  readonly ownTo: number;
  /** others' routes it should hold */
  readonly expected: number;

  /** where it connects from */
  get address(): string {
    return this.plan.family === 6
      ? clientAddress6(this.index)
      : clientAddress(this.index, this.plan.addressBase);
  }

  /** its BGP Identifier: the IPv4 form of its address, also over IPv6 */
  get routerId(): string {
    return clientAddress(this.index, this.plan.addressBase);
  }

  /** Its routes, as UPDATEs of at most 800 prefixes (a /32 NLRI is 5 octets: well under 4,096). */
  routeUpdates(): Buffer[] {
    if (this.updates) return this.updates;
    const nlri: string[] = [];
    for (let i = this.ownFrom; i < this.ownTo; i++) nlri.push(routePrefix(i));
    const base = { origin: "igp" as const, asPath: [], localPref: 100 };
    this.updates = [];
    for (let i = 0; i < nlri.length; i += 800) {
      const part = nlri.slice(i, i + 800);
      const update: UpdateMessage =
        this.plan.family === 6
          ? {
              type: "UPDATE",
              withdrawn: [],
              attributes: {
                ...base,
                mpReach: { afi: 2, safi: 1, nextHop: [clientNextHop6(this.index)], nlri: part },
              },
              nlri: [],
            }
          : {
              type: "UPDATE",
              withdrawn: [],
              attributes: { ...base, nextHop: clientNextHop(this.index) },
              nlri: part,
            };
      this.updates.push(encodeMessage(update, DEFAULT_CONTEXT));
    }
    return this.updates;
  }

  get established(): boolean {
    return this.sessions.every((s) => s.established);
  }

  /** every session holds every other node's routes */
  get complete(): boolean {
    return this.sessions.length > 0 && this.sessions.every((s) => s.held === this.expected);
  }
}

let plan: Plan;
let nodes: Node[] = [];
let announcedAt = 0;
let announced = false;
let stopping = false;
const notifications: string[] = [];
let flaps = 0;

/** how many routes the run has: every node's k, or the fanout source's table */
function routeCount(p: Plan): number {
  return p.sourceRoutes ?? p.total * p.k;
}

/** the node that announces route `index` */
function ownerOf(index: number): number {
  return plan.sourceRoutes !== undefined ? 0 : Math.floor(index / plan.k);
}

function routePrefix(index: number): string {
  if (plan.family === 6) return prefix6Of(index);
  return plan.sourceRoutes !== undefined ? fanoutPrefixOf(index) : prefixOf(index);
}

/** Marks one route of the session held (on) or not; index is in range. */
function set(s: Session, index: number, on: boolean): void {
  const n = s.node;
  if (index >= n.ownFrom && index < n.ownTo) return;
  const byte = index >> 3;
  const bit = 1 << (index & 7);
  if (s.fresh && on) s.fresh[byte] = (s.fresh[byte] as number) | bit;
  const was = (s.bits[byte] as number) & bit;
  if (on && !was) {
    s.bits[byte] = (s.bits[byte] as number) | bit;
    s.held++;
    if (!n.holders || n.holders[index]!++ === 0) n.held++;
  } else if (!on && was) {
    s.bits[byte] = (s.bits[byte] as number) & ~bit;
    s.held--;
    if (!n.holders || --n.holders[index]! === 0) n.held--;
  }
}

/**
 * Marks the prefixes of an NLRI field (RFC 4271 §4.3; RFC 4760's fields hold the same form) in
 * the session's bitmap; a sampled session also notes each one's attributes (`value`), or forgets
 * them when withdrawn. A prefix is read, then the run of the table's next routes after it is
 * matched against the table's own encoding (matchedRun) and marked at once.
 */
function scan(s: Session, buf: Buffer, off: number, end: number, on: boolean, value?: string): void {
  const lay = layout as RouteLayout;
  const { head, base, bits: want, shift, routes } = lay;
  const mask = (1 << shift) - 1;
  const per = routeOctets(lay);
  const n = s.node;
  while (off < end) {
    const bits = buf[off] as number;
    const at = off + 1 + head.length;
    const next = off + 1 + ((bits + 7) >> 3);
    if (bits !== want || next > end || !startsWith(buf, off + 1, head)) {
      if (on) n.unexpected++;
      off = next;
      continue;
    }
    // (the four octets by hand: in this loop, twice as fast as readInt32BE)
    const addr =
      ((buf[at] as number) << 24) |
      ((buf[at + 1] as number) << 16) |
      ((buf[at + 2] as number) << 8) |
      (buf[at + 3] as number);
    const rel = (addr - base) | 0;
    const index = rel >>> shift;
    if (rel < 0 || (rel & mask) !== 0 || index >= routes) {
      if (on) n.unexpected++;
      off = next;
      continue;
    }
    const run = matchedRun(buf, off, end, image as Buffer, lay, index);
    mark(s, index, index + run, on, value);
    off += run * per;
  }
}

/** Marks routes [from, to) of the session held (on) or not: a plain announcement a bitmap byte at a time. */
function mark(s: Session, from: number, to: number, on: boolean, value: string | undefined): void {
  const n = s.node;
  let i = from;
  if (on && !s.fresh && !s.table && !n.holders && (to <= n.ownFrom || from >= n.ownTo)) {
    for (; i < to && (i & 7) !== 0; i++) set(s, i, true);
    const from8 = i >> 3;
    const to8 = to >> 3;
    if (to8 > from8) {
      // whole bytes: all new (one memcmp against zeros, the first time) or counted
      let added = 8 * (to8 - from8);
      if (ZEROS.compare(s.bits, from8, to8, 0, to8 - from8) !== 0)
        for (let b = from8; b < to8; b++) added -= POP[s.bits[b] as number] as number;
      s.bits.fill(255, from8, to8);
      s.held += added;
      n.held += added;
      i = to8 * 8;
    }
  }
  for (; i < to; i++) {
    set(s, i, on);
    if (s.table) {
      if (!on) s.table[i] = undefined;
      else if (value !== undefined) s.table[i] = value;
    }
  }
}

/**
 * An UPDATE at buf[off, off + len), read in place: this is the simulator's hot loop (a thousand
 * nodes receive a million UPDATEs in calico-mesh), so it allocates nothing unless sampled.
 */
function onUpdate(s: Session, buf: Buffer, off: number, len: number): void {
  const n = s.node;
  const at = located;
  locateRoutes(buf, off, len, plan.family ?? 4, at);
  if (at.endOfRib && s.fresh) {
    sweep(s); // stale routes go
    return;
  }
  // a sampled session checks next hops and originators: the attributes decoded once per
  // distinct attribute block (attributeKey: the block without its prefixes)
  let value: string | undefined;
  if (s.table && at.added < at.addedEnd) {
    const frame = buf.subarray(off, off + len);
    const key = attributeKey(frame);
    value = seen.get(key);
    if (value === undefined) {
      const { message } = decodeMessage(frame, DEFAULT_CONTEXT);
      if (message?.type === "UPDATE") {
        const a = message.attributes;
        value = `${plan.family === 6 ? a.mpReach?.nextHop[0] : a.nextHop} ${a.originatorId ?? "-"}`;
        if (key) seen.set(key, value);
      }
    }
  }
  scan(s, buf, at.gone, at.goneEnd, false);
  scan(s, buf, at.added, at.addedEnd, true, value);
  if (announced && n.convergedAt === null && n.held === n.expected) n.convergedAt = performance.now();
  noteLow(n);
}

/** sampled: next hop and originator by attribute key */
const seen = new Map<string, string>();

/** where the UPDATE being read has its routes (one, reused) */
const located: Located = { gone: 0, goneEnd: 0, added: 0, addedEnd: 0, endOfRib: false };

/** the route layout of the run, and every route's prefix as encoded (set at start) */
let layout: RouteLayout | undefined;
let image: Buffer | undefined;
/** a bitmap's worth of zeros */
let ZEROS = Buffer.alloc(0);

/** After convergence: the fewest routes held, and how the node's sessions stood at that moment. */
function noteLow(n: Node): void {
  if (n.convergedAt === null || n.held >= n.lowWater) return;
  n.lowWater = n.held;
  n.lowWaterAt = `${n.held} at ${Date.now()} (${Math.round(performance.now() - announcedAt)} ms after announce): ${n.sessions.map((s) => `${s.target} ${s.established ? "up" : "down"} ${s.held} (${s.lastClose})`).join(", ")}`;
}

/** RFC 4724 §4.2: at End-of-RIB, routes not refreshed since the restart are deleted. */
function sweep(s: Session): void {
  const fresh = s.fresh as Uint8Array;
  s.fresh = undefined;
  for (let i = 0; i < s.bits.length; i++) {
    for (let gone = (s.bits[i] as number) & ~(fresh[i] as number) & 255; gone; gone &= gone - 1) {
      set(s, i * 8 + Math.log2(gone & -gone), false);
    }
  }
  const n = s.node;
  noteLow(n);
}

/** how often a session looks whether its KEEPALIVE is due */
const KEEPALIVE_CHECK_MS = 500;

/**
 * A KEEPALIVE every hold time / 3 (RFC 4271 §4.4), sent from a timer and also whenever the
 * session reads: when thousands of nodes in this process are busy decoding, a timer can run
 * seconds late, while each socket is still read every pass. A real node is not starved by the
 * others, so a late KEEPALIVE here would make the reflector's hold timer measure the simulator.
 */
function keepalive(s: Session, now: number): void {
  // not before the reflector's OPEN (onOpen notes its capabilities): RFC 4271 §8.2.2, OpenSent
  if (s.peerGr === undefined || now - s.lastKeepalive < (plan.holdTime * 1000) / 3) return;
  s.lastKeepalive = now;
  s.socket?.write(KEEPALIVE);
}

/** How long a connection waits for the reflector's OPEN before it is dropped and made again. */
const OPEN_WAIT_MS = 10_000;

function connect(s: Session): void {
  const n = s.node;
  const socket = net.connect({ host: s.target, port: plan.port, localAddress: n.address });
  s.socket = socket;
  s.peerGr = undefined; // no OPEN on this connection yet
  socket.setNoDelay(true);
  socket.on("connect", () => {
    const open: OpenMessage = {
      type: "OPEN",
      version: 4,
      myAs: plan.asn,
      holdTime: plan.holdTime,
      bgpId: n.routerId,
      capabilities: [
        { code: 1, name: "multiprotocol", afi: plan.family === 6 ? 2 : 1, safi: 1 },
        { code: 65, name: "four-octet-as", asn: plan.asn },
        ...(plan.gracefulRestart
          ? [
              // RFC 4724 §3: restart time 120 s, IPv4 unicast with forwarding state kept (F bit)
              {
                code: 64 as const,
                name: "graceful-restart" as const,
                restartFlags: 0,
                restartTime: 120,
                families: [{ afi: plan.family === 6 ? 2 : 1, safi: 1, flags: 0x80 }],
              },
            ]
          : []),
      ],
    };
    s.lastClose = "";
    socket.write(encodeMessage(open, DEFAULT_CONTEXT));
    s.lastKeepalive = performance.now();
    s.keepalive = setInterval(() => keepalive(s, performance.now()), KEEPALIVE_CHECK_MS);
    // OpenSent's hold timer, shorter than RFC 4271's suggested 4 minutes: when hundreds connect
    // at once, a reflector's listen queue can overflow and leave the connection open on our side
    // only (the lab reflectors' do); a real speaker would wait out its hold time, then retry.
    s.openWait = setTimeout(() => {
      if (!s.established) socket.destroy();
    }, OPEN_WAIT_MS);
  });
  socket.on("data", (chunk: Buffer) => {
    const now = performance.now();
    if (s.established) n.maxGapMs = Math.max(n.maxGapMs, now - s.lastIn);
    s.lastIn = now;
    keepalive(s, now);
    n.bytesIn += chunk.length;
    let buf = chunk;
    let off = 0;
    const p = s.pending;
    if (p) {
      // only the message begun in the last chunk is copied, once its length is known
      const need = p.length >= 18 ? p.readUInt16BE(16) - p.length : chunk.length;
      buf = Buffer.concat([p, chunk.subarray(0, need)]);
      if (need < chunk.length) {
        read(s, buf, 0);
        buf = chunk;
        off = need;
      }
    }
    off = read(s, buf, off);
    s.pending = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
  });
  socket.on("error", (e) => notifications.push(`${n.address} to ${s.target}: ${e.message}`));
  socket.on("end", () => {
    s.lastClose = `FIN from ${s.target} at ${Date.now()}`;
  });
  socket.on("close", () => {
    s.lastClose ||= `closed at ${Date.now()}`;
    // A connection that never became a session (the reflector is still away) changes nothing:
    // the routes kept from the last session stay kept.
    const hadSession = s.established;
    s.established = false;
    clearInterval(s.keepalive);
    clearTimeout(s.openWait);
    s.pending = undefined;
    // Connect again, as a BGP speaker's ConnectRetry does (the reflector may be restarting).
    if (!stopping && !s.removed) setTimeout(() => !s.removed && connect(s), 200 + Math.random() * 800);
    // RFC 4724 §4.2, as a real receiving speaker: keep the routes, stale, until the reflector is
    // back and says End-of-RIB, only for a family its capability listed, and only when the
    // session ended without a NOTIFICATION (we do not set the RFC 8538 N bit, as BIRD does not).
    if (!hadSession || s.removed || stopping) return;
    const retain = plan.gracefulRestart && n.convergedAt !== null && s.peerGr?.listed && !s.notified;
    s.peerGr = undefined;
    s.notified = false;
    if (retain) {
      s.fresh ??= new Uint8Array(s.bits.length);
      return;
    }
    drop(s);
  });
}

/** Reads the whole messages in buf from off on; returns where the first incomplete one begins. */
function read(s: Session, buf: Buffer, off: number): number {
  const n = s.node;
  while (buf.length - off >= 19) {
    const len = buf.readUInt16BE(off + 16);
    if (len < 19) throw new Error(`${n.address}: bad message length ${len} from ${s.target}`);
    if (buf.length - off < len) break;
    const type = buf[off + 18];
    if (type === 2) onUpdate(s, buf, off, len);
    else if (type === 1) {
      clearTimeout(s.openWait);
      onOpen(s, buf.subarray(off, off + len));
      s.socket?.write(KEEPALIVE);
    } else if (type === 4 && !s.established) {
      s.established = true;
      if (announced) announce(s);
    } else if (type === 3) {
      const { message } = decodeMessage(buf.subarray(off, off + len), DEFAULT_CONTEXT);
      if (message?.type === "NOTIFICATION")
        notifications.push(`${n.address} from ${s.target}: ${message.code}/${message.subcode}`);
      s.notified = true;
    }
    off += len;
  }
  return off;
}

/** The reflector's OPEN: its graceful restart capability; without F for the family the stale routes go (§4.2). */
function onOpen(s: Session, frame: Buffer): void {
  const { message } = decodeMessage(frame, DEFAULT_CONTEXT);
  if (message?.type !== "OPEN") return;
  const gr = message.capabilities.find((c) => c.name === "graceful-restart");
  const afi = plan.family === 6 ? 2 : 1;
  const family =
    gr?.name === "graceful-restart" ? gr.families.find((f) => f.afi === afi && f.safi === 1) : undefined;
  s.peerGr = {
    listed: family !== undefined,
    forwarding: family !== undefined && (family.flags & 0x80) !== 0,
  };
  if (s.fresh && !s.peerGr.forwarding) drop(s);
}

/** Every route of this session goes: a new session starts from an empty table. */
function drop(s: Session): void {
  s.fresh = undefined;
  for (let i = 0; i < s.bits.length; i++) {
    for (let b = s.bits[i] as number; b; b &= b - 1) set(s, i * 8 + Math.log2(b & -b), false);
  }
  s.table?.fill(undefined);
  const n = s.node;
  noteLow(n);
}

const END_OF_RIB = [1, 2].map((afi) => encodeMessage(endOfRib(afi, 1), DEFAULT_CONTEXT)) as [Buffer, Buffer];

/** The node's routes to one reflector, then End-of-RIB (RFC 4724 §2: its initial table is complete). */
function announce(s: Session): void {
  for (const update of s.node.routeUpdates()) s.socket?.write(update);
  s.socket?.write(END_OF_RIB[plan.family === 6 ? 1 : 0]);
}

/** A sampled node's tables, one per reflector, against what every other node announced. */
function check(n: Node): string | undefined {
  for (const s of n.sessions) {
    const table = s.table as (string | undefined)[];
    for (let i = 0; i < routeCount(plan); i++) {
      const owner = ownerOf(i);
      if (owner === n.index) continue;
      const nextHop = plan.family === 6 ? clientNextHop6(owner) : clientNextHop(owner);
      const want = `${nextHop} ${clientAddress(owner, plan.addressBase)}`;
      const got = table[i];
      if (got !== want)
        return `${n.address} from ${s.target}: ${routePrefix(i)} is ${got ?? "missing"}, expected next hop and originator ${want}`;
    }
  }
  return n.unexpected ? `${n.address}: ${n.unexpected} prefixes nobody announced` : undefined;
}

/**
 * Datastore mode: each node's sessions follow its peerings, computed as calico/node computes them
 * from the datastore, once a change settles. A peering gone ends its session and its routes go
 * with it, as BIRD does when confd removes the protocol; a new one is connected.
 */
function follow(store: Store): void {
  const apply = async () => {
    if (stopping) return;
    const all = computePeeringsOfNodes(
      store.snapshot(),
      nodes.map((n) => `node-${n.index}`),
    );
    const fresh: Session[] = [];
    for (const n of nodes) {
      const want = new Set(
        (all.get(`node-${n.index}`)?.peers ?? [])
          .filter((p) => !p.address.includes(":"))
          .map((p) => p.address),
      );
      for (const s of n.sessions.filter((x) => !want.has(x.target))) {
        s.removed = true;
        s.socket?.destroy();
        drop(s);
      }
      n.sessions = n.sessions.filter((x) => want.has(x.target));
      for (const t of want) {
        if (n.sessions.some((x) => x.target === t)) continue;
        const s = new Session(n, t, n.size, n.sampled);
        n.sessions.push(s);
        fresh.push(s);
      }
    }
    peerings++;
    // new sessions connect in bursts, as at the start
    for (let i = 0; i < fresh.length; i += plan.connectBurst) {
      for (const s of fresh.slice(i, i + plan.connectBurst)) if (!s.removed) connect(s);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const runs = new Coalescer(apply, 250, (e) => notifications.push(`peerings: ${(e as Error).message}`));
  store.on("change", () => {
    if (store.synced) runs.request();
  });
}

let peerings = 0;

async function start(p: Plan): Promise<void> {
  plan = p;
  layout = routeLayout(p.family ?? 4, p.sourceRoutes !== undefined, routeCount(p));
  image = nlriImage(layout);
  ZEROS = Buffer.alloc(Math.ceil(routeCount(p) / 8));
  nodes = [];
  for (let i = 0; i < p.count; i++) nodes.push(new Node(p.first + i, p, (p.first + i) % p.sampleEvery === 0));
  // encoded now, not in the measured run: a real node has its routes before it announces them
  for (const n of nodes) n.routeUpdates();
  if (p.etcd || p.kubeconfig) {
    const store = new Store();
    follow(store);
    const log = pino({ level: "warn" });
    if (p.etcd) new EtcdSource(p.etcd, {}, store, log).start();
    else
      await new KubernetesSource({ kubeconfig: p.kubeconfig, namespace: "kube-system" }, store, log).start();
    return;
  }
  // Connect in bursts, so the reflector's listen backlog is not the thing measured.
  for (let i = 0; i < nodes.length; i += p.connectBurst) {
    for (const n of nodes.slice(i, i + p.connectBurst)) for (const s of n.sessions) connect(s);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function report(): Report {
  const errors = nodes
    .filter((n) => n.sessions[0]?.table)
    .map(check)
    .filter((e) => e !== undefined);
  // the fanout source is sent nothing: it has no convergence time
  const receivers = nodes.filter((n) => n.expected > 0);
  const held = receivers.map((n) => n.held);
  return {
    established: nodes.filter((n) => n.established).length,
    convergedMs: receivers.map((n) =>
      n.convergedAt === null ? null : Math.round(n.convergedAt - announcedAt),
    ),
    maxGapMs: Math.round(Math.max(0, ...nodes.map((n) => n.maxGapMs))),
    bytesIn: nodes.reduce((s, n) => s + n.bytesIn, 0),
    notifications: notifications.slice(0, 20),
    notificationCounts: counts(notifications),
    sampleChecked: nodes.filter((n) => n.sessions[0]?.table).length - errors.length,
    sampleErrors: errors.slice(0, 10),
    minHeld: Math.min(...held),
    maxHeld: Math.max(...held),
    unexpected: nodes.reduce((s, n) => s + n.unexpected, 0),
    lowWater: Math.min(...receivers.map((n) => (Number.isFinite(n.lowWater) ? n.lowWater : n.held))),
    lowWaterAt:
      receivers.reduce((a, b) => (b.lowWater < a.lowWater ? b : a), receivers[0]!)?.lowWaterAt ?? "",
    flaps,
    complete: nodes.filter((n) => n.complete).length,
    sessionsUp: counts(nodes.map((n) => `_ ${n.sessions.filter((x) => x.established).length}`)),
    peersOf:
      plan.etcd || plan.kubeconfig
        ? Object.fromEntries(
            nodes.map((n) => [
              `node-${n.index}`,
              n.sessions
                .filter((x) => x.established)
                .map((x) => x.target)
                .sort(),
            ]),
          )
        : {},
    peeringRuns: peerings,
  };
}

/** "127.1.0.7 from 127.0.50.1: 6/2" lines counted by what follows the node's address. */
function counts(lines: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of lines) {
    const key = l.slice(l.indexOf(" ") + 1);
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Flapping: each chosen node drops its session every 2-4 s (and reconnects), for `ms`. */
function flap(share: number, ms: number): void {
  const chosen = nodes.filter((_, i) => i % Math.round(1 / share) === 0);
  const end = performance.now() + ms;
  const cycle = (n: Node) => {
    if (performance.now() > end) return;
    for (const s of n.sessions) {
      if (s.established) flaps++;
      s.socket?.destroy();
    }
    setTimeout(() => cycle(n), 2000 + Math.random() * 2000);
  };
  for (const n of chosen) setTimeout(() => cycle(n), Math.random() * 2000);
}

const progress = setInterval(() => {
  if (!plan) return;
  process.send?.({
    type: "progress",
    established: nodes.filter((n) => n.established).length,
    converged: nodes.filter((n) => n.convergedAt !== null).length,
    complete: nodes.filter((n) => n.complete).length,
  });
}, 250);

process.on("message", (m: { type: string } & Partial<Plan> & { share?: number; ms?: number }) => {
  switch (m.type) {
    case "start":
      void start(m as unknown as Plan);
      break;
    case "announce":
      announcedAt = performance.now();
      announced = true;
      for (const n of nodes) {
        // a node sent nothing (the fanout source) holds all it should at once
        n.convergedAt = n.expected === 0 ? announcedAt : null;
        for (const s of n.sessions) if (s.established) announce(s);
      }
      break;
    case "flap":
      flap(m.share ?? 0.1, m.ms ?? 60_000);
      break;
    case "report":
      process.send?.({ type: "report", ...report() });
      break;
    case "stop":
      stopping = true;
      clearInterval(progress);
      for (const s of nodes.flatMap((n) => n.sessions)) {
        clearInterval(s.keepalive);
        s.socket?.destroy();
      }
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
