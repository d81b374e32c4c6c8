// Replays against the pure engine with a fake clock. Each peer runs the real session machine
// (fsm/machine.ts, itself a step function) over a simulated connection: the peer's OPEN,
// KEEPALIVE, UPDATEs, NOTIFICATIONs and TCP events go through it as they would through the
// driver, and what it and the engine decide is recorded as text lines. Nothing runs on its own:
// time moves only when the replay advances it, and every deadline of the engine and of each
// machine fires at its time.
//
// The scenario language (test/scenarios/*/config.txt and events.txt), one statement per line,
// `#` starts a comment:
//   reflector id A as N [cluster C] [deferral S] [flush MS] [high-water OCTETS] [no-client-to-client]
//   peer NAME ADDRESS client|non-client|ebgp [as N] [passive] [add-path send|receive|both]
//        [add-path-max N] [max-prefixes N] [gr SECONDS] [no-gr] [max-restart S] [stale S]
//        [next-hop-self A] [allow-local-as N] [hold S] [families ipv4,ipv6] [filters F,F] [later]
//   filter NAME SPEC             (a BGPFilter: its spec as one line of JSON, before the peers naming it)
//   T connect NAME [id A] [gr[=S]] [no-fwd] [restarting] [no-gr] [add-path] [err] [no-ext] [as2] [hold S] [n-bit]
//        [llgr=S]                (RFC 9494 long-lived graceful restart, stale time S, F bit as for gr)
//   T announce NAME P[,P...] [nh A] [lp N] [med N] [as N,N] [orig A] [cl A,A] [comm X,X] [path N]
//   T withdraw NAME P[,P...] [path N]
//   T eor NAME [ipv4|ipv6]       T refresh NAME [ipv4|ipv6]      T borr NAME     T eorr NAME
//   T raw NAME HEX               (an UPDATE body, as the peer sends it)
//   T lose NAME                  (the TCP connection fails)      T notify NAME CODE/SUBCODE
//   T stall NAME                 (the peer stops reading)        T read NAME (it reads all queued)
//   T remove NAME   T add NAME   T stop [retain]   T tick
//   T filters NAME F,F|none      (the peer's BGPFilters change; the session stays)
// T is milliseconds on the fake clock. Output lines: `T NAME < MESSAGE` for what a peer is sent
// (UPDATE, End-of-RIB, ROUTE-REFRESH, NOTIFICATION; not OPEN or KEEPALIVE), and `T ACTION ...`
// for sessions opened and stopped and the engine's log events.
import {
  AFI,
  type BgpMessage,
  type Capability,
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  endOfRib,
  type Family,
  Framer,
  makeContext,
  maxLengthFor,
  type Nlri,
  type OpenMessage,
  type PathAttributes,
} from "../../src/bgp/index.js";
import type { PeerFilters } from "../../src/datastore/peerings.js";
import { type BgpFilterResource, parseResource } from "../../src/datastore/resources.js";
import { initialState, nextDeadline, notification, step, updateErrorInput } from "../../src/fsm/machine.js";
import type { FsmAction, FsmInput, FsmState, Negotiated } from "../../src/fsm/types.js";
import { clientOf } from "../../src/reflector/defaults.js";
import {
  Engine,
  type EngineAction,
  type EngineConfig,
  type EngineInput,
} from "../../src/reflector/engine.js";
import type { Transport } from "../../src/reflector/groups.js";
import type { NeighborConfig } from "../../src/reflector/neighbor.js";

export interface PeerDef {
  name: string;
  config: NeighborConfig;
  /** not configured at the start: an `add` event configures it */
  later: boolean;
}

export interface ScenarioConfig {
  engine: EngineConfig;
  peers: PeerDef[];
  filters: Map<string, BgpFilterResource>;
}

/** A peer's BGPFilters by name, their rules for its family in order (as the datastore gives them). */
function peerFilters(
  names: string[],
  family: Family,
  filters: Map<string, BgpFilterResource>,
): PeerFilters | undefined {
  if (!names.length) return undefined;
  const out: PeerFilters = { names, import: [], export: [] };
  for (const name of names) {
    const f = filters.get(name);
    if (!f) throw new Error(`no filter ${name}`);
    out.import.push(...(family === "ipv4" ? f.importV4 : f.importV6));
    out.export.push(...(family === "ipv4" ? f.exportV4 : f.exportV6));
  }
  return out;
}

const words = (line: string) => line.replace(/#.*/, "").trim().split(/\s+/).filter(Boolean);

/** Options after the fixed words: `key value` pairs and bare flags. */
function options(ws: string[], flags: readonly string[]): Map<string, string> {
  const o = new Map<string, string>();
  for (let i = 0; i < ws.length; i++) {
    const w = ws[i]!;
    const eq = w.indexOf("=");
    if (eq > 0) o.set(w.slice(0, eq), w.slice(eq + 1));
    else if (flags.includes(w)) o.set(w, "");
    else if (i + 1 < ws.length) o.set(w, ws[++i]!);
    else throw new Error(`option ${w} needs a value`);
  }
  return o;
}

const num = (o: Map<string, string>, k: string) => (o.has(k) ? Number(o.get(k)) : undefined);

export function parseConfig(text: string): ScenarioConfig {
  let engine: EngineConfig | undefined;
  const peers: PeerDef[] = [];
  const filters = new Map<string, BgpFilterResource>();
  for (const line of text.split("\n")) {
    const ws = words(line);
    if (!ws.length) continue;
    if (ws[0] === "filter") {
      const name = ws[1]!;
      const spec = JSON.parse(line.slice(line.indexOf(name) + name.length)) as object;
      const f = parseResource({ kind: "BGPFilter", metadata: { name }, spec }, `filter ${name}`);
      filters.set(name, f as BgpFilterResource);
    } else if (ws[0] === "reflector") {
      const o = options(ws.slice(1), ["no-client-to-client"]);
      engine = {
        routerId: o.get("id")!,
        localAs: Number(o.get("as")),
        ...(o.has("cluster") ? { clusterId: o.get("cluster")! } : {}),
        selectionDeferral: num(o, "deferral") ?? 0,
        flushDelayMs: num(o, "flush") ?? 10,
        ...(o.has("high-water") ? { highWater: Number(o.get("high-water")) } : {}),
        ...(o.has("no-client-to-client") ? { clientToClient: false } : {}),
      };
    } else if (ws[0] === "peer") {
      if (!engine) throw new Error("reflector comes before its peers");
      const [, name, address, role] = ws as [string, string, string, string];
      if (role !== "client" && role !== "non-client" && role !== "ebgp") throw new Error(`role ${role}`);
      const o = options(ws.slice(4), ["passive", "no-gr", "later"]);
      const families = (o.get("families")?.split(",") ?? [
        address.includes(":") ? "ipv6" : "ipv4",
      ]) as Family[];
      const addPath = o.get("add-path") as "send" | "receive" | "both" | undefined;
      const config: NeighborConfig = {
        ...clientOf(engine),
        peerAddress: address,
        peerAs: num(o, "as") ?? engine.localAs,
        role,
        families,
        passive: o.has("passive"),
        holdTime: num(o, "hold") ?? 90,
        idleHoldTime: 1,
        ...(addPath ? { addPath: Object.fromEntries(families.map((f) => [f, addPath])) } : {}),
        ...(o.has("add-path-max") ? { addPathMax: Number(o.get("add-path-max")) } : {}),
        ...(o.has("max-prefixes") ? { maxPrefixes: Number(o.get("max-prefixes")) } : {}),
        ...(o.has("max-restart") ? { maxRestartTime: Number(o.get("max-restart")) } : {}),
        ...(o.has("stale") ? { staleTime: Number(o.get("stale")) } : {}),
        ...(o.has("next-hop-self") ? { nextHopSelf: o.get("next-hop-self")! } : {}),
        ...(o.has("allow-local-as") ? { allowLocalAs: Number(o.get("allow-local-as")) } : {}),
      };
      const peerF = peerFilters(o.get("filters")?.split(",") ?? [], families[0]!, filters);
      if (peerF) config.filters = peerF;
      if (o.has("no-gr")) delete config.gracefulRestart;
      else if (o.has("gr")) config.gracefulRestart = { restartTime: Number(o.get("gr")), notification: true };
      peers.push({ name, config, later: o.has("later") });
    } else {
      throw new Error(`unknown statement: ${line}`);
    }
  }
  if (!engine) throw new Error("no reflector line");
  return { engine, peers, filters };
}

/** The peer's OPEN, from the words after `connect NAME`. */
function peerOpen(cfg: NeighborConfig, o: Map<string, string>): OpenMessage {
  const asn = cfg.peerAs;
  const families = cfg.families;
  const caps: Capability[] = families.map((f) => ({ code: 1, name: "multiprotocol", afi: AFI[f], safi: 1 }));
  caps.push({ code: 2, name: "route-refresh" });
  if (o.has("err")) caps.push({ code: 70, name: "enhanced-route-refresh" });
  if (!o.has("as2")) caps.push({ code: 65, name: "four-octet-as", asn });
  if (!o.has("no-ext")) caps.push({ code: 6, name: "extended-message" });
  if (o.has("add-path"))
    caps.push({
      code: 69,
      name: "add-path",
      families: families.map((f) => ({ afi: AFI[f], safi: 1, sendReceive: 3 })),
    });
  if (!o.has("no-gr")) {
    const fwd = o.has("no-fwd") ? 0 : 0x80;
    caps.push({
      code: 64,
      name: "graceful-restart",
      restartFlags: (o.has("restarting") ? 0x8 : 0) | (o.has("n-bit") ? 0x4 : 0),
      restartTime: num(o, "gr") ?? 120,
      families: families.map((f) => ({ afi: AFI[f], safi: 1, flags: fwd })),
    });
    if (o.has("llgr"))
      caps.push({
        code: 71,
        name: "long-lived-graceful-restart",
        families: families.map((f) => ({ afi: AFI[f], safi: 1, flags: fwd, staleTime: num(o, "llgr") ?? 0 })),
      });
  }
  return {
    type: "OPEN",
    version: 4,
    myAs: asn > 0xffff && o.has("as2") ? 23456 : asn,
    holdTime: num(o, "hold") ?? 0,
    bgpId: o.get("id") ?? cfg.peerAddress.replace(/^127\.0\./, "100.64."),
    capabilities: caps,
  };
}

/** An UPDATE's announcement from the words after the prefixes. */
function announcement(
  family: Family,
  prefixes: string[],
  o: Map<string, string>,
  pathId?: number,
): BgpMessage {
  const nlri: Nlri[] = prefixes.map((p) => (pathId === undefined ? p : { pathId, prefix: p }));
  const list = (k: string) => o.get(k)?.split(",").filter(Boolean);
  const attrs: PathAttributes = {
    origin: "igp",
    asPath: o.has("as") ? [{ type: "AS_SEQUENCE", asns: list("as")!.map(Number) }] : [],
    ...(o.has("med") ? { med: Number(o.get("med")) } : {}),
    ...(o.has("lp") ? { localPref: Number(o.get("lp")) } : {}),
    ...(o.has("orig") ? { originatorId: o.get("orig")! } : {}),
    ...(o.has("cl") ? { clusterList: list("cl")! } : {}),
    ...(o.has("comm") ? { communities: list("comm")! } : {}),
  };
  if (family === "ipv4")
    return {
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...attrs, nextHop: o.get("nh") ?? "203.0.113.1" },
      nlri,
    };
  return {
    type: "UPDATE",
    withdrawn: [],
    attributes: {
      mpReach: { afi: 2, safi: 1, nextHop: [o.get("nh") ?? "2001:db8:ffff::1"], nlri },
      ...attrs,
    },
    nlri: [],
  };
}

/** One decoded message as a line: UPDATE -withdrawn +announced {attributes}. */
export function formatMessage(m: BgpMessage): string {
  if (m.type === "NOTIFICATION") return `NOTIFICATION ${m.code}/${m.subcode}`;
  if (m.type === "ROUTE-REFRESH")
    return `ROUTE-REFRESH ${m.afi === 2 ? "ipv6" : "ipv4"} ${["", "BoRR", "EoRR"][m.subtype] ?? ""}`.trim();
  if (m.type !== "UPDATE") return m.type;
  if (m.endOfRib) return `EOR ${m.endOfRib.afi === 2 ? "ipv6" : "ipv4"}`;
  const nl = (n: Nlri) => (typeof n === "string" ? n : `${n.prefix}#${n.pathId}`);
  const a = m.attributes;
  const withdrawn = [...m.withdrawn, ...(a.mpUnreach?.withdrawn ?? [])].map((n) => `-${nl(n)}`);
  const announced = [...m.nlri, ...(a.mpReach?.nlri ?? [])].map((n) => `+${nl(n)}`);
  return ["UPDATE", ...withdrawn, ...announced, ...(announced.length ? [formatAttributes(a)] : [])].join(" ");
}

export function formatAttributes(a: PathAttributes): string {
  const f: string[] = [];
  if (a.origin) f.push(`origin ${a.origin}`);
  if (a.asPath)
    f.push(`as [${a.asPath.map((s) => (s.type === "AS_SET" ? `{${s.asns}}` : s.asns.join(" "))).join(" ")}]`);
  const nh = a.nextHop ?? a.mpReach?.nextHop.join(",");
  if (nh) f.push(`nh ${nh}`);
  if (a.med !== undefined) f.push(`med ${a.med}`);
  if (a.localPref !== undefined) f.push(`lp ${a.localPref}`);
  if (a.communities) f.push(`comm ${a.communities.join(",")}`);
  if (a.originatorId) f.push(`orig ${a.originatorId}`);
  if (a.clusterList) f.push(`cl [${a.clusterList.join(" ")}]`);
  if (a.as4Path) f.push(`as4 [${a.as4Path.map((s) => s.asns.join(" ")).join(" ")}]`);
  return `{${f.join(", ")}}`;
}

/** What the peer could not send on its session: an UPDATE longer than the session allows. */
export class Unsendable extends Error {}

/** A simulated peer's end: the session machine on our side, and what the peer has received. */
class SimPeer implements Transport {
  machine: FsmState | undefined;
  cfg: NeighborConfig;
  /** the session as the engine knows it: set from `open` to `stop` */
  configured = false;
  negotiated: Negotiated | undefined;
  /** octets written and not yet read (while stalled) */
  queued: Buffer[] = [];
  writableLength = 0;
  stalled = false;
  awaitingDrain = false;
  framer = new Framer();
  /** what the peer holds: prefix(#id) -> attributes, from what it was sent */
  readonly table = new Map<string, string>();
  /** End-of-RIB received per family since the session came up */
  eor = new Set<Family>();
  /** the attributes of the last UPDATE the peer sent, as decoded (for the simulation's model) */
  lastSent: PathAttributes | undefined;

  constructor(
    readonly name: string,
    readonly def: NeighborConfig,
    private readonly replay: Replay,
  ) {
    this.cfg = def;
  }

  write(chunk: Buffer): void {
    this.queued.push(chunk);
    this.writableLength += chunk.length;
    if (!this.stalled) this.replay.deliverLater(this);
  }

  /** The peer reads everything queued. */
  read(): void {
    const chunks = this.queued;
    this.queued = [];
    this.writableLength = 0;
    for (const c of chunks) {
      this.framer.push(c);
      for (let f = this.framer.next(); f !== undefined; f = this.framer.next()) {
        if (!Buffer.isBuffer(f)) throw new Error(`${this.name}: we sent a bad frame: ${f.message}`);
        // as the peer decodes it: our AS is its peer AS
        const ctx = this.negotiated
          ? makeContext({ ...this.negotiated.tx, peerAs: this.cfg.localAs })
          : DEFAULT_CONTEXT;
        const { message, error } = decodeMessage(f, ctx);
        if (!message || error)
          throw new Error(`${this.name}: we sent an undecodable message: ${error?.message}`);
        this.received(message);
      }
    }
  }

  private received(m: BgpMessage): void {
    if (m.type === "OPEN" || m.type === "KEEPALIVE") return;
    this.replay.record(`${this.name} < ${formatMessage(m)}`);
    if (m.type !== "UPDATE") return;
    if (m.endOfRib) {
      this.eor.add(m.endOfRib.afi === 2 ? "ipv6" : "ipv4");
      return;
    }
    const nl = (n: Nlri) => (typeof n === "string" ? n : `${n.prefix}#${n.pathId}`);
    const a = m.attributes;
    for (const n of [...m.withdrawn, ...(a.mpUnreach?.withdrawn ?? [])]) this.table.delete(nl(n));
    const attrs = formatAttributes(a);
    for (const n of [...m.nlri, ...(a.mpReach?.nlri ?? [])]) this.table.set(nl(n), attrs);
  }
}

export class Replay {
  readonly engine: Engine;
  now = 0;
  readonly lines: string[] = [];
  readonly peers = new Map<string, SimPeer>();
  private readonly byAddress = new Map<string, SimPeer>();
  /** peers with octets to read once the current step is done */
  private readonly toDeliver = new Set<SimPeer>();

  constructor(readonly config: ScenarioConfig) {
    this.engine = new Engine(config.engine, 0);
    for (const p of config.peers) {
      const sim = new SimPeer(p.name, p.config, this);
      this.peers.set(p.name, sim);
      this.byAddress.set(p.config.peerAddress, sim);
    }
  }

  record(line: string): void {
    this.lines.push(`${this.now} ${line}`);
  }

  deliverLater(p: SimPeer): void {
    this.toDeliver.add(p);
  }

  private peer(name: string): SimPeer {
    const p = this.peers.get(name);
    if (!p) throw new Error(`no peer ${name}`);
    return p;
  }

  /** Feeds the engine, carries out its actions, and lets peers read what they were sent. */
  input(input: EngineInput): EngineAction[] {
    const actions = this.engine.handle(this.now, input);
    for (const a of actions) this.act(a);
    this.deliver();
    return actions;
  }

  /** Peers that are not stalled read what they were sent, as a socket drains once the loop turns. */
  private deliver(): void {
    while (this.toDeliver.size) {
      const [p] = this.toDeliver as Set<SimPeer>;
      this.toDeliver.delete(p!);
      if (!p!.stalled) this.drain(p!);
    }
  }

  private drain(p: SimPeer): void {
    p.read();
    if (p.awaitingDrain && p.configured) {
      p.awaitingDrain = false;
      this.input({ type: "drained", peer: p.cfg.peerAddress });
    }
  }

  private act(a: EngineAction): void {
    switch (a.type) {
      case "open": {
        const p = this.byAddress.get(a.config.peerAddress)!;
        const gr = a.config.gracefulRestart;
        p.cfg = gr ? { ...a.config, gracefulRestart: { ...gr, restarting: a.restarting } } : a.config;
        p.configured = true;
        p.machine = initialState(p.cfg);
        this.record(`open ${p.name}${a.restarting ? " restarting" : ""}`);
        this.feed(p, { type: "Start" });
        return;
      }
      case "stop": {
        const p = this.byAddress.get(a.peer)!;
        this.record(`stop ${p.name}${a.retain ? " retain" : ""}`);
        const n = notification(6, a.subcode ?? 2);
        p.configured = false; // its events no longer reach the engine
        this.feed(p, { type: "Stop", notification: n, retain: a.retain });
        return;
      }
      case "close": {
        const p = this.byAddress.get(a.peer)!;
        this.record(`close ${p.name}: ${a.reason}`);
        this.feed(p, { type: "Close", notification: a.notification, reason: a.reason });
        return;
      }
      case "await-drain":
        this.byAddress.get(a.peer)!.awaitingDrain = true;
        return;
      case "restart-over":
        for (const p of this.peers.values())
          if (p.cfg.gracefulRestart) p.cfg.gracefulRestart.restarting = false;
        this.record("restart-over");
        return;
      case "log":
        this.record(
          a.event.name === "leftOut"
            ? `log leftOut ${a.event.prefixes.join(",")} for ${a.event.peers.map((x) => this.byAddress.get(x)!.name).join(",")}`
            : `log deferralEnded${a.event.timedOut ? " timedOut" : ""}${a.event.waitingFor.length ? ` waitingFor ${a.event.waitingFor.map((x) => this.byAddress.get(x)!.name).join(",")}` : ""}`,
        );
        return;
      case "reset":
        return; // handled where the UPDATE was fed (updateFrame)
    }
  }

  /** Feeds a peer's session machine, as the driver does, and hands what it decides to the engine. */
  private feed(p: SimPeer, input: FsmInput): void {
    const m = p.machine;
    if (!m) return;
    const before = m.state;
    const actions: FsmAction[] = step(m, p.cfg, input, this.now);
    for (const a of actions) {
      if (a.type === "Send") {
        if (a.message.type === "NOTIFICATION") this.record(`${p.name} < ${formatMessage(a.message)}`);
      } else if (a.type === "Established") {
        p.negotiated = a.negotiated;
        p.eor.clear();
        p.table.clear(); // what it had from an earlier session it has dropped, or replaces now
        p.framer = new Framer(a.negotiated.extendedMessage);
        if (p.configured)
          this.input({ type: "up", peer: p.cfg.peerAddress, negotiated: a.negotiated, transport: p });
      } else if (a.type === "Down") {
        p.negotiated = undefined;
        if (p.configured)
          this.input({
            type: "down",
            peer: p.cfg.peerAddress,
            ...(a.gracefulRestart ? { gracefulRestart: a.gracefulRestart } : {}),
          });
      } else if (a.type === "RouteRefresh") {
        if (p.configured)
          this.input({
            type: "refresh",
            peer: p.cfg.peerAddress,
            afi: a.afi,
            safi: a.safi,
            subtype: a.subtype,
          });
      } else if (a.type === "Disconnect") {
        p.queued = [];
        p.writableLength = 0;
        p.awaitingDrain = false;
      }
    }
    if (before !== m.state && p.configured)
      this.input({ type: "state", peer: p.cfg.peerAddress, to: m.state });
  }

  /** An UPDATE from the peer, through the machine and the engine, errors handled as the driver does. */
  private updateFrame(p: SimPeer, frame: Buffer): void {
    const m = p.machine;
    if (m?.state !== "Established" || !p.negotiated) throw new Error(`${p.name} is not Established`);
    this.feed(p, { type: "Received" });
    this.feed(p, { type: "Update" });
    const actions = this.input({ type: "update", peer: p.cfg.peerAddress, frame });
    const reset = actions.find((a) => a.type === "reset");
    const input = reset?.type === "reset" ? updateErrorInput(reset.error) : undefined;
    if (input) this.feed(p, input);
  }

  private send(p: SimPeer, message: BgpMessage): void {
    if (!p.negotiated) throw new Error(`${p.name} is not Established`);
    const frame = encodeMessage(message, { ...p.negotiated.rx, extendedMessage: true });
    // a peer sends nothing longer than the session allows (RFC 4271 §4, RFC 8654)
    if (frame.length > maxLengthFor(p.negotiated.rx)) throw new Unsendable(`${frame.length} octets`);
    const sent = decodeMessage(frame, p.negotiated.rx).message;
    p.lastSent = sent?.type === "UPDATE" ? sent.attributes : undefined;
    this.updateFrame(p, frame);
  }

  /** Moves the clock to `t`, firing every deadline on the way in order. */
  advance(t: number): void {
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = this.engine.deadline();
      let who: SimPeer | undefined;
      for (const p of this.peers.values()) {
        const d = p.machine && nextDeadline(p.machine);
        if (d !== undefined && (next === undefined || d < next)) {
          next = d;
          who = p;
        }
      }
      if (next === undefined || next > t) break;
      this.now = Math.max(this.now, next);
      if (who) this.feed(who, { type: "Tick" });
      else this.input({ type: "tick" });
      this.deliver();
    }
    this.now = Math.max(this.now, t);
  }

  /** Runs until the engine has nothing left to do (at most an hour on). */
  settle(): void {
    const limit = this.now + 3_600_000;
    for (let d = this.engine.deadline(); d !== undefined && d <= limit; d = this.engine.deadline())
      this.advance(d);
  }

  /** One event line: `T verb ...`. */
  event(line: string): void {
    const ws = words(line);
    if (!ws.length) return;
    const t = Number(ws[0]);
    if (!Number.isFinite(t) || t < this.now) throw new Error(`bad or past time in: ${line}`);
    this.advance(t);
    this.do(ws[1]!, ws.slice(2));
    this.deliver();
  }

  do(verb: string, args: string[]): void {
    if (verb === "tick") return;
    if (verb === "stop") {
      this.input({ type: "stop", message: "scenario", retain: args[0] === "retain" });
      return;
    }
    const p = this.peer(args[0]!);
    const rest = args.slice(1);
    const address = p.def.peerAddress;
    switch (verb) {
      case "add":
        this.input({ type: "add", config: p.def });
        return;
      case "remove":
        this.input({ type: "remove", peer: address, message: "removed", subcode: 3 });
        return;
      case "filters": {
        const names = rest[0] === "none" ? [] : (rest[0]?.split(",") ?? []);
        const filters = peerFilters(names, p.def.families[0]!, this.config.filters);
        this.input({ type: "filters", peer: address, ...(filters ? { filters } : {}) });
        return;
      }
      case "connect": {
        const m = p.machine;
        if (!m || (m.state !== "Connect" && m.state !== "Active" && m.state !== "Idle"))
          throw new Error(`${p.name} cannot connect in ${m?.state}`);
        if (m.state === "Idle") this.feed(p, { type: "Incoming" });
        const o = options(rest, [
          "gr",
          "no-fwd",
          "restarting",
          "no-gr",
          "add-path",
          "err",
          "no-ext",
          "as2",
          "n-bit",
        ]);
        this.feed(p, { type: "TcpUp" });
        this.feed(p, { type: "Received" });
        this.feed(p, { type: "Message", message: peerOpen(p.cfg, o) });
        this.feed(p, { type: "Received" });
        this.feed(p, { type: "Message", message: { type: "KEEPALIVE" } });
        return;
      }
      case "announce":
      case "withdraw": {
        const prefixes = rest[0]!.split(",");
        const o = options(rest.slice(1), []);
        const family: Family = prefixes[0]!.includes(":") ? "ipv6" : "ipv4";
        // RFC 7911: a Path Identifier exactly when the peer sends ADD-PATH for the family
        const pathId = p.negotiated?.rx.addPath[family] ? (num(o, "path") ?? 0) : undefined;
        // a long list goes in UPDATEs of 200 prefixes, as a speaker packs them
        for (let i = 0; i < prefixes.length; i += 200) {
          const part = prefixes.slice(i, i + 200);
          if (verb === "announce") {
            this.send(p, announcement(family, part, o, pathId));
            continue;
          }
          const nlri: Nlri[] = part.map((x) => (pathId === undefined ? x : { pathId, prefix: x }));
          this.send(
            p,
            family === "ipv4"
              ? { type: "UPDATE", withdrawn: nlri, attributes: {}, nlri: [] }
              : {
                  type: "UPDATE",
                  withdrawn: [],
                  attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: nlri } },
                  nlri: [],
                },
          );
        }
        return;
      }
      case "eor":
        this.send(p, endOfRib(rest[0] === "ipv6" ? 2 : 1, 1));
        return;
      case "raw": {
        const body = Buffer.from(rest[0]!, "hex");
        const header = Buffer.alloc(19, 0xff);
        header.writeUInt16BE(19 + body.length, 16);
        header[18] = 2;
        this.updateFrame(p, Buffer.concat([header, body]));
        return;
      }
      case "refresh":
      case "borr":
      case "eorr": {
        const afi = rest[0] === "ipv6" ? 2 : 1;
        const subtype = verb === "refresh" ? 0 : verb === "borr" ? 1 : 2;
        this.feed(p, { type: "Received" });
        this.feed(p, { type: "Message", message: { type: "ROUTE-REFRESH", afi, safi: 1, subtype } });
        return;
      }
      case "lose":
        this.feed(p, { type: "TcpFailed" });
        return;
      case "notify": {
        const [code, subcode] = rest[0]!.split("/").map(Number) as [number, number];
        this.feed(p, { type: "Received" });
        this.feed(p, { type: "Message", message: notification(code, subcode) });
        return;
      }
      case "stall":
        p.stalled = true;
        return;
      case "read":
        p.stalled = false;
        this.drain(p);
        return;
      default:
        throw new Error(`unknown event ${verb}`);
    }
  }

  /** What a peer holds now, as `prefix(#id) {attributes}` lines, sorted. */
  table(name: string): string[] {
    return [...this.peer(name).table].map(([k, v]) => `${k} ${v}`).sort();
  }
}

/** Runs a scenario: its configuration and events; the output lines. */
export function replay(config: string, events: string): string[] {
  const r = new Replay(parseConfig(config));
  for (const p of r.config.peers) if (!p.later) r.input({ type: "add", config: p.config });
  for (const line of events.split("\n")) r.event(line);
  r.settle();
  return r.lines;
}
