// Deterministic simulation of the engine (as FoundationDB and TigerBeetle test their cores): a
// seeded generator of schedules over many peers (sessions coming and going with and without
// graceful restart, UPDATE and withdraw bursts, route refresh, slow readers, peers removed and
// added by the datastore, clock jumps, UPDATEs at the size limits) is replayed against the engine
// with a fake clock (replay.ts). At every quiescent point, each client's table, as built from
// what it was sent, is compared with a reference model computed from scratch from the same
// inputs: the Adj-RIB-In of every peer (RFC 4724 and RFC 7313 stale handling included), the
// decision process over them, and the RFC 4456 rules of who gets which path with which
// attributes. The model shares the small pure functions with the engine (selectBest, isLooped,
// outboundAttributes, which have their own table tests); what it checks is everything between
// them: Adj-RIB-In and Loc-RIB upkeep, flushes, update groups, ADD-PATH, export suppression,
// table snapshots, catch-up of slow members, timers.
import fc from "fast-check";
import {
  asPathLength,
  encodeMessage,
  type Family,
  ipv4Number,
  maxLengthFor,
  type PathAttributes,
} from "../../src/bgp/index.js";
import { isLooped, mayAdvertise, outboundAttributes, type Role } from "../../src/reflector/rules.js";
import { addressKey, type Candidate, selectBest } from "../../src/rib/index.js";
import { formatAttributes, parseConfig, Replay, Unsendable } from "./replay.js";

const PREFIXES4 = Array.from({ length: 12 }, (_, i) => `198.18.${i}.0/24`);
const PREFIXES6 = Array.from({ length: 6 }, (_, i) => `2001:db8:${i + 1}::/48`);
/** many prefixes, for UPDATEs near the 4,096-octet limit and packing across messages */
const BURST = Array.from({ length: 1200 }, (_, i) => `100.${64 + (i >> 8)}.${i & 255}.0/24`);

interface PeerPlan {
  name: string;
  address: string;
  role: Role;
  as: number;
  addPath: boolean;
  addPathMax?: number;
}

export interface Schedule {
  config: string;
  /** each event as a line of the scenario language, with the time since the previous one */
  events: { dt: number; line: string }[];
}

/** The schedule (up to event `last`) as a scenario's config.txt and events.txt, absolute times. */
export function asScenario(s: Schedule, last = s.events.length - 1): { config: string; events: string } {
  let t = 0;
  const events = s.events.slice(0, last + 1).map((e) => {
    t += e.dt;
    return `${t} ${e.line}`;
  });
  return { config: s.config, events: `${events.join("\n")}\n` };
}

const peerPlan = (i: number): fc.Arbitrary<PeerPlan> =>
  fc
    .record({
      role: fc.constantFrom<Role>("client", "client", "client", "non-client", "ebgp"),
      addPath: fc.boolean(),
      addPathMax: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    })
    .map((r) => ({
      name: `p${i}`,
      address: `127.0.90.${i + 1}`,
      role: r.role,
      as: r.role === "ebgp" ? 65100 + i : 64512,
      addPath: r.addPath,
      ...(r.addPath && r.addPathMax ? { addPathMax: r.addPathMax } : {}),
    }));

function configText(peers: PeerPlan[], clientToClient: boolean, highWater: number, deferral: number): string {
  const lines = [
    `reflector id 100.64.255.1 as 64512 cluster 203.0.113.250 high-water ${highWater} deferral ${deferral}${clientToClient ? "" : " no-client-to-client"}`,
    ...peers.map(
      (p) =>
        `peer ${p.name} ${p.address} ${p.role} as ${p.as} families ipv4,ipv6 hold 0` +
        (p.addPath ? " add-path both" : "") +
        (p.addPathMax ? ` add-path-max ${p.addPathMax}` : ""),
    ),
  ];
  return `${lines.join("\n")}\n`;
}

/** The capabilities of a peer's OPEN. */
const caps = fc
  .record({
    gr: fc.boolean(),
    fwd: fc.boolean(),
    nbit: fc.boolean(),
    err: fc.boolean(),
    ext: fc.boolean(),
    as2: fc.boolean(),
  })
  .map((c) =>
    [
      c.gr ? "gr=30" : "no-gr",
      c.gr && !c.fwd ? "no-fwd" : "",
      c.gr && c.nbit ? "n-bit" : "",
      c.err ? "err" : "",
      c.ext ? "" : "no-ext",
      // a 2-octet AS speaker (RFC 6793): our ASNs fit, so nothing changes but the encoding
      c.as2 ? "as2" : "",
      "add-path",
    ]
      .filter(Boolean)
      .join(" "),
  );

/** One event line for one of these peers. */
const eventLine = (peers: PeerPlan[]): fc.Arbitrary<string> => {
  const n = peers.length;
  const peer = fc.integer({ min: 0, max: n - 1 }).map((i) => `p${i}`);
  /** an eBGP peer's AS_PATH starts with its AS (RFC 4271 §6.3) */
  const asPath = (i: number, as: string | undefined) => {
    const p = peers[i]!;
    const path = p.role === "ebgp" ? [String(p.as), ...(as ? [as] : [])].join(",") : as;
    return path ? `as ${path}` : "";
  };
  const some = (pool: string[], max: number) =>
    fc.uniqueArray(fc.constantFrom(...pool), { minLength: 1, maxLength: max }).map((a) => a.join(","));
  const prefixes = fc.oneof(some(PREFIXES4, 4), some(PREFIXES6, 3));
  const attrs = fc
    .record({
      lp: fc.option(fc.constantFrom(100, 200, 300), { nil: undefined }),
      med: fc.option(fc.constantFrom(0, 5, 10), { nil: undefined }),
      orig: fc.option(fc.constantFrom("100.64.9.1", "100.64.255.1"), { nil: undefined }),
      cl: fc.option(fc.constantFrom("203.0.113.251", "203.0.113.250"), { nil: undefined }),
      comm: fc.option(fc.integer({ min: 1, max: 1010 }), { nil: undefined }),
      path: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    })
    .map((a) =>
      [
        a.lp !== undefined ? `lp ${a.lp}` : "",
        a.med !== undefined ? `med ${a.med}` : "",
        a.orig ? `orig ${a.orig}` : "",
        a.cl ? `cl ${a.cl}` : "",
        // up to 4,040 octets of communities: around the limit once reflected
        a.comm ? `comm ${Array.from({ length: a.comm }, (_, i) => `65000:${i}`).join(",")}` : "",
        a.path ? `path ${a.path}` : "",
      ]
        .filter(Boolean)
        .join(" "),
    );
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(peer, caps).map(([p, c]) => `connect ${p} ${c}`) },
    {
      weight: 8,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 0, max: n - 1 }),
          prefixes,
          attrs,
          fc.option(fc.constantFrom("65001", "65001,65002", "65003", "64512"), { nil: undefined }),
        )
        .map(([i, x, a, as]) =>
          `announce p${i} ${x} ${[asPath(i, as), a].filter(Boolean).join(" ")}`.trimEnd(),
        ),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(peer, prefixes, fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }))
        .map(([p, x, id]) => `withdraw ${p} ${x}${id ? ` path ${id}` : ""}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 300, max: 1200 }), fc.boolean())
        .map(([i, k, w]) =>
          `${w ? "withdraw" : `announce`} p${i} ${BURST.slice(0, k).join(",")}${w ? "" : ` ${asPath(i, undefined)}`}`.trimEnd(),
        ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(peer, fc.constantFrom("ipv4", "ipv6")).map(([p, f]) => `eor ${p} ${f}`),
    },
    { weight: 2, arbitrary: peer.map((p) => `lose ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `notify ${p} 6/4`) },
    { weight: 1, arbitrary: peer.map((p) => `refresh ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `borr ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `eorr ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `stall ${p}`) },
    { weight: 2, arbitrary: peer.map((p) => `read ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `remove ${p}`) },
    { weight: 1, arbitrary: peer.map((p) => `add ${p}`) },
  );
};

export const schedule: fc.Arbitrary<Schedule> = fc
  .integer({ min: 3, max: 7 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => peerPlan(i))))
  .chain((peers) =>
    fc.record({
      peers: fc.constant(peers),
      clientToClient: fc.boolean(),
      highWater: fc.constantFrom(1000, 16_384, 16 * 1024 * 1024),
      // RFC 4724 §4.1 after our start: clients get nothing until every peer is in, or 5 s
      deferral: fc.constantFrom(0, 0, 5),
      events: fc.array(
        fc.record({
          // mostly within a flush, sometimes seconds, sometimes past restart and stale times
          dt: fc.oneof(
            { weight: 6, arbitrary: fc.integer({ min: 0, max: 30 }) },
            { weight: 3, arbitrary: fc.integer({ min: 0, max: 5000 }) },
            { weight: 1, arbitrary: fc.integer({ min: 0, max: 400_000 }) },
          ),
          line: eventLine(peers),
        }),
        { minLength: 10, maxLength: 150, size: "max" },
      ),
      /** how each peer's first session opens */
      caps: fc.array(caps, { minLength: peers.length, maxLength: peers.length }),
    }),
  )
  .map((s) => ({
    config: configText(s.peers, s.clientToClient, s.highWater, s.deferral),
    // every peer comes up first; the schedule takes it from there
    events: [...s.peers.map((p, i) => ({ dt: 0, line: `connect ${p.name} ${s.caps[i]}` })), ...s.events],
  }));

interface ModelRoute {
  attrs: PathAttributes;
  stale: boolean;
}

/** A peer as the model sees it: from the inputs alone. */
interface ModelPeer {
  name: string;
  address: string;
  role: Role;
  routes: Map<string, ModelRoute>;
  /** RFC 4724: families whose stale routes wait for End-of-RIB after a restart */
  restarting: Set<Family>;
  /** when kept stale routes go */
  staleUntil?: number;
  routerId: string;
}

const familyOf = (key: string): Family => (key.includes(":") ? "ipv6" : "ipv4");
const prefixOf = (key: string) => key.split("#")[0]!;

/** The reference: every peer's routes, and from them what each client must hold. */
class Model {
  readonly peers = new Map<string, ModelPeer>();

  constructor(private readonly replay: Replay) {
    for (const p of replay.config.peers)
      this.peers.set(p.name, {
        name: p.name,
        address: p.config.peerAddress,
        role: p.config.role,
        routes: new Map(),
        restarting: new Set(),
        routerId: "0.0.0.0",
      });
  }

  private sweep(p: ModelPeer, family: Family): void {
    for (const [k, r] of p.routes) if (r.stale && familyOf(k) === family) p.routes.delete(k);
  }

  /** Time passed: the stale routes of a restart whose time ran out go. */
  expire(now: number): void {
    for (const p of this.peers.values()) {
      if (p.staleUntil === undefined || now < p.staleUntil) continue;
      for (const f of p.restarting) this.sweep(p, f);
      p.restarting.clear();
      p.staleUntil = undefined;
    }
  }

  /**
   * The peer's session came up. RFC 4724 §4.2: without forwarding state its stale routes go
   * now; with it they wait for End-of-RIB, 360 s at most.
   */
  up(name: string, forwarding: boolean, routerId: string, now: number): void {
    const p = this.peers.get(name)!;
    p.routerId = routerId;
    p.staleUntil = undefined;
    if (!forwarding) {
      for (const f of p.restarting) this.sweep(p, f);
      p.restarting.clear();
    }
    if (p.restarting.size) p.staleUntil = now + 360_000;
  }

  /** The session went down: with graceful restart, its routes are kept stale for its restart time (30 s). */
  down(name: string, graceful: boolean, now: number): void {
    const p = this.peers.get(name)!;
    p.staleUntil = undefined;
    if (!graceful) {
      p.routes.clear();
      p.restarting.clear();
      return;
    }
    for (const r of p.routes.values()) r.stale = true;
    p.restarting = new Set(["ipv4", "ipv6"]);
    p.staleUntil = now + 30_000;
  }

  clear(name: string): void {
    const p = this.peers.get(name)!;
    p.routes.clear();
    p.restarting.clear();
    p.staleUntil = undefined;
  }

  /**
   * A looped path is ineligible, as if withdrawn (RFC 4456 §8, RFC 4271 §9.1.2): it leaves the
   * table, so a later announcement of it comes after the peer's other paths. Paths that tie in
   * every step of the decision (two of one peer's ADD-PATH paths) go to the one that came first.
   */
  announce(name: string, keys: string[], attrs: PathAttributes): void {
    const p = this.peers.get(name)!;
    const src = this.replay.peers.get(name)!.cfg;
    const looped = isLooped(attrs, {
      clusterId: src.clusterId,
      routerId: src.routerId,
      localAs: src.localAs,
    });
    for (const k of keys) {
      if (looped) p.routes.delete(k);
      else p.routes.set(k, { attrs, stale: false });
    }
  }

  withdraw(name: string, keys: string[]): void {
    const p = this.peers.get(name)!;
    for (const k of keys) p.routes.delete(k);
  }

  markStale(name: string, family: Family): void {
    for (const [k, r] of this.peers.get(name)!.routes) if (familyOf(k) === family) r.stale = true;
  }

  /** RFC 4724: End-of-RIB after a restart sweeps what was not sent again. */
  endOfRib(name: string, family: Family): void {
    const p = this.peers.get(name)!;
    if (p.restarting.delete(family)) this.sweep(p, family);
    if (!p.restarting.size) p.staleUntil = undefined;
  }

  /** RFC 7313 §4: EoRR sweeps what was not sent again since BoRR. */
  endOfRefresh(name: string, family: Family): void {
    this.sweep(this.peers.get(name)!, family);
  }

  /** What the peer `to` must hold: prefix(#any) {attributes} lines, sorted. */
  expected(to: string): string[] {
    const r = this.replay.peers.get(to)!;
    const n = r.negotiated!;
    const c = r.cfg;
    const clientToClient = this.replay.config.engine.clientToClient ?? true;
    const receiver = { role: c.role, localAs: c.localAs, clusterId: c.clusterId, asn4: n.asn4 };
    interface P {
      from: ModelPeer;
      attrs: PathAttributes;
    }
    const byPrefix = new Map<string, P[]>();
    for (const p of this.peers.values()) {
      if (!this.replay.peers.get(p.name)!.configured) continue;
      for (const [k, route] of p.routes) {
        const prefix = prefixOf(k);
        const list = byPrefix.get(prefix) ?? [];
        list.push({ from: p, attrs: route.attrs });
        byPrefix.set(prefix, list);
      }
    }
    const key = (x: P): Candidate => {
      const a = x.attrs;
      const first = a.asPath?.find((s) => s.type === "AS_SEQUENCE");
      return {
        llgrStale: false,
        localPref: a.localPref ?? 100,
        asPathLength: asPathLength(a.asPath ?? []),
        origin: { igp: 0, egp: 1, incomplete: 2 }[a.origin ?? "incomplete"],
        med: a.med ?? 0,
        neighborAs: first?.asns[0] ?? 0,
        ebgp: x.from.role === "ebgp",
        clusterListLength: a.clusterList?.length ?? 0,
        routerId: ipv4Number(a.originatorId ?? x.from.routerId),
        peerAddress: addressKey(x.from.address),
      };
    };
    const max = maxLengthFor(n.tx);
    const out = (x: P) =>
      outboundAttributes(x.attrs, { role: x.from.role, routerId: x.from.routerId }, receiver);
    const fits = (prefix: string, attrs: PathAttributes) => {
      const v6 = prefix.includes(":");
      const ap = n.tx.addPath[v6 ? "ipv6" : "ipv4"];
      const nlri = ap ? [{ pathId: 1, prefix }] : [prefix];
      try {
        const m = v6
          ? encodeMessage(
              {
                type: "UPDATE",
                withdrawn: [],
                attributes: { ...attrs, mpReach: { ...attrs.mpReach!, nlri } },
                nlri: [],
              },
              { ...n.tx, extendedMessage: true },
            )
          : encodeMessage(
              { type: "UPDATE", withdrawn: [], attributes: attrs, nlri },
              { ...n.tx, extendedMessage: true },
            );
        return m.length <= max;
      } catch {
        return false;
      }
    };
    const lines: string[] = [];
    for (const [prefix, paths] of byPrefix) {
      const family: Family = prefix.includes(":") ? "ipv6" : "ipv4";
      if (!n.families.includes(family)) continue;
      const eligible = (x: P) => mayAdvertise(x.from.role, c.role, clientToClient);
      if (!n.tx.addPath[family]) {
        const best = selectBest(paths, key)!;
        if (eligible(best) && fits(prefix, out(best))) lines.push(`${prefix} ${formatAttributes(out(best))}`);
        continue;
      }
      let left = paths.filter((x) => eligible(x) && fits(prefix, out(x)));
      const ranked: P[] = [];
      while (left.length && ranked.length < (c.addPathMax ?? Number.POSITIVE_INFINITY)) {
        const b = selectBest(left, key)!;
        ranked.push(b);
        left = left.filter((x) => x !== b);
      }
      for (const x of ranked) lines.push(`${prefix}#* ${formatAttributes(out(x))}`);
    }
    return lines.sort();
  }
}

export interface Failure {
  /** the event after which the tables differed: the schedule up to it replays the failure */
  index: number;
  at: number;
  event: string;
  message: string;
}

/** What a run did: events the sessions could take, and tables compared with the model. */
export interface SimStats {
  events: number;
  executed: number;
  /** tables compared, and how many of them held routes */
  checks: number;
  nonEmpty: number;
}

export const totals: SimStats = { events: 0, executed: 0, checks: 0, nonEmpty: 0 };

/** Replays a schedule, checking every client against the model at each quiescent point. */
export function runSchedule(s: Schedule): Failure | undefined {
  const r = new Replay(parseConfig(s.config));
  const model = new Model(r);
  for (const p of r.config.peers) r.input({ type: "add", config: p.config });
  let t = 0;
  for (const [index, e] of s.events.entries()) {
    totals.events++;
    t += e.dt;
    const ws = e.line.trim().split(/\s+/);
    const [verb, name] = ws as [string, string];
    r.advance(t);
    model.expire(r.now);
    const p = r.peers.get(name)!;
    const state = p.machine?.state;
    const up = p.configured && state === "Established";
    // events the session cannot take now are not sent (a real peer would not send them)
    if (
      verb === "connect" &&
      !(p.configured && (state === "Connect" || state === "Active" || state === "Idle"))
    )
      continue;
    if (["announce", "withdraw", "eor", "refresh", "borr", "eorr", "lose", "notify"].includes(verb) && !up)
      continue;
    if (verb === "remove" && !p.configured) continue;
    if (verb === "add" && p.configured) continue;
    const wasGr = p.negotiated?.gracefulRestart;
    totals.executed++;
    try {
      r.do(verb, ws.slice(1));
    } catch (err) {
      // an UPDATE too long for the session: the peer could not have sent it
      if (err instanceof Unsendable) continue;
      return { index, at: r.now, event: e.line.slice(0, 200), message: `threw: ${(err as Error).stack}` };
    }
    const keys = (list: string, id?: string) => list.split(",").map((x) => (id ? `${x}#${id}` : x));
    const opt = (k: string) => {
      const i = ws.indexOf(k);
      return i > 0 ? ws[i + 1] : undefined;
    };
    const addPathRx = (family: Family) => Boolean(p.negotiated?.rx.addPath[family]);
    switch (verb) {
      case "connect": {
        const n = p.negotiated!;
        const fwd = !ws.includes("no-fwd") && Boolean(n.gracefulRestart);
        model.up(name, fwd, n.peerId, r.now);
        break;
      }
      case "announce":
      case "withdraw": {
        const list = ws[2]!;
        const family: Family = list.includes(":") ? "ipv6" : "ipv4";
        const id = addPathRx(family) ? (opt("path") ?? "0") : undefined;
        if (verb === "withdraw") {
          model.withdraw(name, keys(list, id));
          break;
        }
        // what the peer sent, as the Adj-RIB-In keeps it (the UPDATE as decoded, NLRI aside)
        const a = p.lastSent!;
        model.announce(name, keys(list, id), a);
        break;
      }
      case "eor":
        model.endOfRib(name, ws[2] === "ipv6" ? "ipv6" : "ipv4");
        break;
      case "borr":
        model.markStale(name, "ipv4");
        break;
      case "eorr":
        model.endOfRefresh(name, "ipv4");
        break;
      case "lose":
        model.down(name, Boolean(wasGr), r.now);
        break;
      case "notify":
        // RFC 8538: with both N bits, a NOTIFICATION (not a Hard Reset) keeps them too
        model.down(name, Boolean(wasGr?.notification), r.now);
        break;
      case "remove":
        model.clear(name);
        break;
    }
    // quiescent point: every flush and every slice of writes done
    r.advance(r.now + 30);
    model.expire(r.now);
    for (const [peerName, sim] of r.peers) {
      if (!sim.configured || sim.machine?.state !== "Established" || sim.stalled || sim.awaitingDrain)
        continue;
      const families = sim.negotiated!.families;
      if (!families.every((f) => sim.eor.has(f))) continue;
      const got = r
        .table(peerName)
        .map((l) => l.replace(/#\d+ /, "#* "))
        .sort();
      const want = model.expected(peerName);
      totals.checks++;
      if (want.length) totals.nonEmpty++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        const missing = want.filter((x) => !got.includes(x));
        const extra = got.filter((x) => !want.includes(x));
        return {
          index,
          at: r.now,
          event: e.line.slice(0, 200),
          message: `${peerName} holds a different table: missing ${JSON.stringify(missing).slice(0, 1500)}, extra ${JSON.stringify(extra).slice(0, 1500)}`,
        };
      }
    }
  }
  return undefined;
}
