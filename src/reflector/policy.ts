// Calico's BGPFilter rules applied to routes, as calico/node's BIRD applies them: confd writes each
// BGPFilter as a BIRD function of `if (conditions) then { operations; accept|reject; }` lines
// (confd template_funcs.go filterStatement) and calls a peering's filters in the BGPPeer's order
// (bgp_processor.go buildImportFilter / buildExportFilter). The first rule whose conditions all
// hold decides, across the filters; when none does, an import is accepted and an export goes on
// to the default export policy. Pure.
import ipaddr from "ipaddr.js";
import {
  type AsSegment,
  keyBits,
  keyFamily,
  keyOctet,
  type PathAttributes,
  type PrefixKey,
} from "../bgp/index.js";
import type { DefaultExport } from "../datastore/peerings.js";
import type { FilterOperation, FilterRule } from "../datastore/resources.js";
import { DEFAULT_LOCAL_PREF, prepend } from "./rules.js";

/** Priority and LOCAL_PREF: LOCAL_PREF = 2^31 - 1 - priority (confd's BirdIntMaxValue). */
const PRIORITY_BASE = 2147483647;

/** A prefix as the rules compare it: its address octets and length. */
interface Net {
  octets: number[];
  bits: number;
}

/** A prefix written as text (a rule's CIDR). */
function netOf(prefix: string): Net {
  const slash = prefix.indexOf("/");
  const address = prefix.slice(0, slash);
  // the Loc-RIB writes IPv4 prefixes as dotted quads: read them without ipaddr's parser
  const octets = address.includes(":") ? ipaddr.parse(address).toByteArray() : address.split(".").map(Number);
  return { octets, bits: Number(prefix.slice(slash + 1)) };
}

/** The prefixes of routes read so far, by the route's stable object: each is parsed once. */
const nets = new WeakMap<object, Net>();

/** A prefix key (keys.ts) as octets and length. */
function netOfKey(k: PrefixKey): Net {
  const octets: number[] = [];
  for (let i = 0, n = keyFamily(k) === "ipv4" ? 4 : 16; i < n; i++) octets.push(keyOctet(k, i));
  return { octets, bits: keyBits(k) };
}

/** A route's prefix as octets and length. */
function netFor(route: RouteView): Net {
  if (!route.key) return netOfKey(route.prefix);
  let net = nets.get(route.key);
  if (!net) {
    net = netOfKey(route.prefix);
    nets.set(route.key, net);
  }
  return net;
}

/** Whether the first `bits` bits of two addresses are equal. */
function samePrefix(a: number[], b: number[], bits: number): boolean {
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask);
}

/** Whether `net` is `x` or a prefix within it. */
const within = (net: Net, x: Net): boolean => net.bits >= x.bits && samePrefix(net.octets, x.octets, x.bits);

/** A rule's conditions, ready to test. */
interface Compiled {
  rule: FilterRule;
  net?: Net;
}

/** What a rule is asked about: the route (prefix, attributes) and the peering. */
export interface RouteView {
  prefix: PrefixKey;
  /** an object that stands for the route while it lasts (its Dest, its Adj-RIB-In entry): its prefix is read once */
  key?: object;
  attributes: PathAttributes;
  /** the peering is iBGP (confd's is_same_as: the peer's AS is our AS towards it) */
  internal: boolean;
}

/** What a filter chain decided: the deciding rule's index (or -1), and whether the route goes on. */
export interface Verdict {
  rule: number;
  accept: boolean;
}

export const NO_RULE: Verdict = Object.freeze({ rule: -1, accept: true });

export class FilterChain {
  private readonly rules: Compiled[];
  /** the verdict of each rule, made once */
  private readonly verdicts: Verdict[];

  constructor(rules: readonly FilterRule[]) {
    this.rules = rules.map((rule) => (rule.cidr ? { rule, net: netOf(rule.cidr.prefix) } : { rule }));
    this.verdicts = rules.map((rule, i) => Object.freeze({ rule: i, accept: rule.action === "Accept" }));
  }

  /** The first rule that applies to the route; NO_RULE when none does. */
  decide(route: RouteView): Verdict {
    let net: Net | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const c = this.rules[i] as Compiled;
      if (c.net) net ??= netFor(route);
      if (applies(c, route, net)) return this.verdicts[i] as Verdict;
    }
    return NO_RULE;
  }

  /** The operations of rule `i` (an Accept rule's modifications), in order. */
  operations(i: number): readonly FilterOperation[] {
    return this.rules[i]?.rule.operations ?? [];
  }
}

/** Every condition the rule sets holds (confd joins them with &&). */
function applies(c: Compiled, route: RouteView, net: Net | undefined): boolean {
  const r = c.rule;
  const a = route.attributes;
  // PeerType wraps the rule in `if (is_same_as)` / `if (!is_same_as)`.
  if (r.peerType === "iBGP" && !route.internal) return false;
  if (r.peerType === "eBGP" && route.internal) return false;
  if (r.cidr && c.net && net && !matchesCidr(r.cidr, c.net, net)) return false;
  // `defined(ifname) && ifname ~ "..."`: a reflected route has no outgoing interface here, the
  // reflector installs none; `source ~ [ RTS_BGP ]`: every route here is learned over BGP.
  if (r.interface !== undefined) return false;
  if (r.community !== undefined) {
    const list = isLarge(r.community) ? a.largeCommunities : a.communities;
    if (!list?.includes(r.community)) return false;
  }
  if (r.asPathPrefix && !startsWith(a.asPath ?? [], r.asPathPrefix)) return false;
  if (r.priority !== undefined && localPref(a) !== PRIORITY_BASE - r.priority) return false;
  return true;
}

/**
 * BIRD's `net ~ X` (within X), `net = X`, and their negations; with a length range, `net ~ [
 * X{min,max} ]`: within X with a length from min to max.
 */
function matchesCidr(cidr: NonNullable<FilterRule["cidr"]>, x: Net, net: Net): boolean {
  const inside = within(net, x);
  const inRange = !cidr.lengths || (net.bits >= cidr.lengths.min && net.bits <= cidr.lengths.max);
  switch (cidr.operator) {
    case "In":
      return inside && inRange;
    case "NotIn":
      return !(inside && inRange);
    case "Equal":
      return net.bits === x.bits && inside;
    case "NotEqual":
      return !(net.bits === x.bits && inside);
  }
}

/** BIRD's `bgp_path ~ [= a b * =]`: the AS_PATH, read as one list of ASNs, begins with these. */
function startsWith(path: readonly AsSegment[], asns: readonly number[]): boolean {
  let i = 0;
  for (const s of path) {
    for (const asn of s.asns) {
      if (i === asns.length) return true;
      if (asn !== asns[i]) return false;
      i++;
    }
  }
  return i === asns.length;
}

/** The LOCAL_PREF of a route as BIRD holds it: every BGP route has one (100 when it came without). */
function localPref(a: PathAttributes): number {
  return a.localPref ?? DEFAULT_LOCAL_PREF;
}

/** "a:b:c" is a large community (RFC 8092), "a:b" a standard one. */
const isLarge = (community: string): boolean => community.split(":").length === 3;

/**
 * The attributes after an Accept rule's operations (confd filterOperationStatements): a community
 * is added unless carried already (BIRD's clist add), ASNs go in front of the AS_PATH in the
 * order listed, a priority becomes LOCAL_PREF.
 */
export function applyOperations(attrs: PathAttributes, ops: readonly FilterOperation[]): PathAttributes {
  if (ops.length === 0) return attrs;
  const out: PathAttributes = { ...attrs };
  for (const op of ops) {
    if ("addCommunity" in op) {
      const large = isLarge(op.addCommunity);
      const list = (large ? out.largeCommunities : out.communities) ?? [];
      if (list.includes(op.addCommunity)) continue;
      if (large) out.largeCommunities = [...list, op.addCommunity];
      else out.communities = [...list, op.addCommunity];
    } else if ("prependAsPath" in op) {
      out.asPath = prepend(out.asPath ?? [], op.prependAsPath);
    } else {
      out.localPref = PRIORITY_BASE - op.setPriority;
    }
  }
  return out;
}

/** The key of a peering's rules (and default export), for what depends on them (update groups). */
export function chainKey(rules: readonly FilterRule[] | undefined, tail?: DefaultExport): string {
  return rules?.length || tail ? JSON.stringify([rules ?? [], tail ?? null]) : "";
}

/** What the export policy decided for a path: sent or not, with what changes (`key` names them, for caches). */
export interface ExportVerdict {
  accept: boolean;
  ops: readonly FilterOperation[];
  key: string;
}

/** Sent as it is: no rule decided, or one accepted it without operations. */
export const SENT: ExportVerdict = Object.freeze({ accept: true, ops: [], key: "" });
const NOT_SENT: ExportVerdict = Object.freeze({ accept: false, ops: [], key: "" });

/**
 * A peering's export: its BGPFilter rules, then, when none decided, calico/node's default
 * export where the peering has one (node mode), else the route is sent.
 */
export class ExportPolicy {
  private readonly chain: FilterChain;
  private readonly tail:
    | { decide: FilterChain; communities: { net: Net; ops: FilterOperation[] }[] }
    | undefined;
  /** the default export's verdict per route (it depends on the prefix alone) */
  private readonly tailVerdicts = new WeakMap<object, ExportVerdict>();
  /** verdicts with operations, one object per rule or set of prefix advertisements */
  private readonly verdicts = new Map<string, ExportVerdict>();

  constructor(rules: readonly FilterRule[], tail?: DefaultExport) {
    this.chain = new FilterChain(rules);
    if (tail) {
      const rule = (action: "Accept" | "Reject", prefix: string): FilterRule => ({
        action,
        cidr: { prefix, operator: "In" },
        operations: [],
      });
      this.tail = {
        decide: new FilterChain([
          ...tail.reject.map((p) => rule("Reject", p)),
          ...tail.accept.map((p) => rule("Accept", p)),
        ]),
        communities: tail.communities.map((a) => ({
          net: netOf(a.cidr),
          ops: a.communities.map((c) => ({ addCommunity: c })),
        })),
      };
    }
  }

  decide(route: RouteView): ExportVerdict {
    const v = this.chain.decide(route);
    if (v.rule >= 0) {
      const ops = this.chain.operations(v.rule);
      return !v.accept ? NOT_SENT : ops.length ? this.verdict(`#${v.rule}`, ops) : SENT;
    }
    const tail = this.tail;
    if (!tail) return SENT;
    // it depends on the prefix alone: once per route
    if (route.key) {
      let v = this.tailVerdicts.get(route.key);
      if (!v) {
        v = this.defaultExport(tail, route);
        this.tailVerdicts.set(route.key, v);
      }
      return v;
    }
    return this.defaultExport(tail, route);
  }

  /**
   * calico_export_to_bgp_peers: disabled pools rejected, apply_communities(), then accepted
   * within a service range or pool, else the filter's final reject.
   */
  private defaultExport(tail: NonNullable<ExportPolicy["tail"]>, route: RouteView): ExportVerdict {
    const t = tail.decide.decide(route);
    if (!t.accept || t.rule < 0) return NOT_SENT;
    if (!tail.communities.length) return SENT;
    const net = netFor(route);
    const matching = tail.communities.filter((c) => within(net, c.net));
    if (!matching.length) return SENT;
    const key = `#t${matching.map((c) => tail.communities.indexOf(c)).join(",")}`;
    return this.verdict(
      key,
      matching.flatMap((c) => c.ops),
    );
  }

  /** Why decide() does not send the route, in words (for `why`). */
  explain(route: RouteView): string {
    const v = this.chain.decide(route);
    if (v.rule >= 0) return `its BGPFilter export rule ${v.rule + 1} rejects it`;
    const t = this.tail?.decide.decide(route);
    if (t && t.rule >= 0 && !t.accept)
      return "calico/node's default export: it is in an IP pool with disableBGPExport";
    return "calico/node's default export: it is in no IP pool or service address range";
  }

  private verdict(key: string, ops: readonly FilterOperation[]): ExportVerdict {
    let v = this.verdicts.get(key);
    if (!v) {
      v = { accept: true, ops, key };
      this.verdicts.set(key, v);
    }
    return v;
  }
}
