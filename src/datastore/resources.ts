// Calico resources as the reflector needs them: Node, BGPPeer, BGPConfiguration, BGPFilter (projectcalico.org/v3
// as stored in etcd and taken by calicoctl; crd.projectcalico.org/v1 on Kubernetes, same spec), the
// Kubernetes Node with Calico's annotations, and the legacy /calico/bgp/v1/rr_v4|rr_v6 entries.
// Field meanings and defaults: shared/calico-datamodel.md §2–§3.
//
// Parsing validates every field we use and names the first bad one; fields we do not use are
// ignored, so newer Calico versions still load.
import ipaddr from "ipaddr.js";
import { type Labels, parseSelector, type Selector, SelectorError } from "./selector.js";

export interface SecretRef {
  name: string;
  key: string;
}

export interface NodeResource {
  kind: "Node";
  name: string;
  labels: Labels;
  /** the node's BGP addresses, without prefix length */
  ipv4?: string;
  ipv6?: string;
  asNumber?: number;
  /** spec.bgp.routeReflectorClusterID: the node is a route reflector in this cluster */
  clusterId?: string;
}

export type NextHopMode = "Auto" | "Self" | "Keep";

export interface BgpPeerResource {
  kind: "BGPPeer";
  name: string;
  node?: string;
  nodeSelector?: Selector;
  peerIP?: { address: string; port?: number };
  peerSelector?: Selector;
  asNumber?: number;
  localAsNumber?: number;
  /** nextHopMode, or keepOriginalNextHop as Keep */
  nextHopMode: NextHopMode;
  password?: SecretRef;
  sourceAddress: "UseNodeIP" | "None";
  /** seconds */
  maxRestartTime?: number;
  keepaliveTime?: number;
  ttlSecurity?: number;
  /** how many times our AS may appear in the AS_PATH of received routes (BIRD's "allow local as") */
  numAllowedLocalASNumbers?: number;
  /** our annotation MAX_PREFIXES_ANNOTATION: reset a session that sends more prefixes per family */
  maxPrefixes?: number;
  reversePeering: "Auto" | "Manual";
  /** peerings with local workloads: not ours to make (a reflector hosts no workloads) */
  localWorkloadSelector?: string;
  /** BGPFilter names, applied in this order */
  filters?: string[];
}

export interface BgpConfigResource {
  kind: "BGPConfiguration";
  name: string;
  asNumber?: number;
  nodeToNodeMeshEnabled?: boolean;
  listenPort?: number;
  logSeverityScreen?: string;
  nodeMeshPassword?: SecretRef;
  nodeMeshMaxRestartTime?: number;
  bindMode?: "None" | "NodeIP";
  /** service address ranges the nodes advertise (CIDRs): calico/node's export accepts them */
  serviceClusterIPs: string[];
  serviceExternalIPs: string[];
  serviceLoadBalancerIPs: string[];
  /** communities added to exported routes within a CIDR (names resolved to values) */
  prefixAdvertisements: { cidr: string; communities: string[] }[];
}

/** An IPPool, as calico/node's export filter uses it: routes within it are exported unless disableBGPExport. */
export interface IpPoolResource {
  kind: "IPPool";
  name: string;
  cidr: string;
  disableBGPExport: boolean;
}

/** How a BGPFilter rule compares a route's prefix with its CIDR. */
export type MatchOperator = "Equal" | "NotEqual" | "In" | "NotIn";

/** A route modification of an Accept rule (Calico's BGPFilterOperation: exactly one of these). */
export type FilterOperation =
  /** "a:b" (standard, RFC 1997) or "a:b:c" (large, RFC 8092) */
  | { addCommunity: string }
  /** these ASNs, in this order, in front of the AS_PATH */
  | { prependAsPath: number[] }
  /** the route's priority, as Felix's route metrics: LOCAL_PREF becomes 2^31 - 1 - value */
  | { setPriority: number };

/**
 * One rule of a BGPFilter (BGPFilterRuleV4 / V6), validated. Every condition set must hold for
 * the rule to apply; the first rule that applies decides.
 */
export interface FilterRule {
  action: "Accept" | "Reject";
  /**
   * The prefix condition: the route's prefix compared with `prefix` by `operator`; with a
   * prefixLength, `In` means within `prefix` with a length from `min` to `max` (confd writes
   * a BIRD prefix set `[ prefix{min,max} ]`).
   */
  cidr?: { prefix: string; operator: MatchOperator; lengths?: { min: number; max: number } };
  source?: "RemotePeers";
  interface?: string;
  peerType?: "eBGP" | "iBGP";
  /** a community the route must carry: "a:b" or "a:b:c" */
  community?: string;
  /** ASNs the AS_PATH must begin with */
  asPathPrefix?: number[];
  /** the route's priority must be this (LOCAL_PREF 2^31 - 1 - priority) */
  priority?: number;
  operations: FilterOperation[];
}

/** A BGPFilter: ordered rules per direction and family. */
export interface BgpFilterResource {
  kind: "BGPFilter";
  name: string;
  importV4: FilterRule[];
  exportV4: FilterRule[];
  importV6: FilterRule[];
  exportV6: FilterRule[];
}

/** A legacy `/calico/bgp/v1/rr_v4/<ip>` or `rr_v6/<ip>` entry: a reflector of the reflector mesh. */
export interface ReflectorEntry {
  kind: "ReflectorEntry";
  name: string;
  ip: string;
  clusterId?: string;
  /** reflectors mesh only with reflectors of the same mesh ("" for the one default mesh) */
  mesh: string;
}

export type Resource =
  | NodeResource
  | BgpPeerResource
  | BgpConfigResource
  | BgpFilterResource
  | IpPoolResource
  | ReflectorEntry;
export type ResourceKind = Resource["kind"];

/** An object that cannot be used: its key, the field and why. */
export class ResourceError extends Error {
  constructor(
    readonly key: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${key}: ${field}: ${reason}`);
    this.name = "ResourceError";
  }
}

type Obj = Record<string, unknown>;

/** Reads fields of one object, throwing ResourceError with the field's path. */
class Fields {
  constructor(
    private readonly key: string,
    private readonly obj: Obj,
    private readonly path: string,
  ) {}

  fail(field: string, reason: string): never {
    throw new ResourceError(this.key, field ? this.at(field) : this.path, reason);
  }

  has(field: string): boolean {
    const v = this.obj[field];
    return v !== undefined && v !== null && v !== "";
  }

  raw(field: string): unknown {
    return this.obj[field];
  }

  sub(field: string): Fields {
    const v = this.obj[field];
    if (v === undefined || v === null) return new Fields(this.key, {}, this.at(field));
    if (typeof v !== "object" || Array.isArray(v)) this.fail(field, "not an object");
    return new Fields(this.key, v as Obj, this.at(field));
  }

  private at(field: string): string {
    return this.path ? `${this.path}.${field}` : field;
  }

  string(field: string): string | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (typeof v !== "string") this.fail(field, `not a string: ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    const v = this.string(field);
    if (v === undefined) return undefined;
    if (!allowed.includes(v as T))
      this.fail(field, `${JSON.stringify(v)} is not one of ${allowed.join(", ")}`);
    return v as T;
  }

  boolean(field: string): boolean | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (typeof v !== "boolean") this.fail(field, `not a boolean: ${JSON.stringify(v)}`);
    return v;
  }

  integer(field: string, min: number, max: number): number | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(field, `not an integer from ${min} to ${max}: ${JSON.stringify(v)}`);
    }
    return v;
  }

  asNumber(field: string): number | undefined {
    if (!this.has(field)) return undefined;
    const n = parseAsNumber(this.obj[field]);
    if (n === undefined) this.fail(field, `not an AS number: ${JSON.stringify(this.obj[field])}`);
    return n === 0 ? undefined : n;
  }

  duration(field: string): number | undefined {
    if (!this.has(field)) return undefined;
    const v = this.obj[field];
    const s = typeof v === "string" ? parseDuration(v) : undefined;
    if (s === undefined) this.fail(field, `not a duration such as "120s" or "2m30s": ${JSON.stringify(v)}`);
    return s;
  }

  /** A list field: each element read by `item` with Fields of its own (path field[i]). */
  list<T>(field: string, item: (f: Fields, i: number) => T, max = Number.POSITIVE_INFINITY): T[] {
    if (!this.has(field)) return [];
    const v = this.obj[field];
    if (!Array.isArray(v)) this.fail(field, "not a list");
    if (v.length > max) this.fail(field, `more than ${max} entries`);
    return v.map((e, i) => {
      const at = `${field}[${i}]`;
      if (typeof e !== "object" || e === null || Array.isArray(e)) this.fail(at, "not an object");
      return item(new Fields(this.key, e as Obj, this.at(at)), i);
    });
  }

  /** A list of strings. */
  strings(field: string): string[] {
    if (!this.has(field)) return [];
    const v = this.obj[field];
    if (!Array.isArray(v) || v.some((e) => typeof e !== "string")) this.fail(field, "not a list of strings");
    return [...(v as string[])];
  }

  /** A list of AS numbers. */
  asNumbers(field: string, min: number, max: number): number[] {
    if (!this.has(field)) return [];
    const v = this.obj[field];
    if (!Array.isArray(v)) this.fail(field, "not a list of AS numbers");
    if (v.length < min || v.length > max) this.fail(field, `needs ${min} to ${max} AS numbers`);
    return v.map((e, i) => {
      const n = parseAsNumber(e);
      if (n === undefined) this.fail(`${field}[${i}]`, `not an AS number: ${JSON.stringify(e)}`);
      return n;
    });
  }

  /** A CIDR of either family, as "address/length" with the address in canonical form. */
  cidr(field: string): string | undefined {
    const v = this.string(field);
    if (v === undefined) return undefined;
    const c = parseCidr(v);
    if (!c) this.fail(field, `not a CIDR: ${JSON.stringify(v)}`);
    return c.prefix;
  }

  selector(field: string): Selector | undefined {
    const v = this.string(field);
    if (v === undefined) return undefined;
    try {
      return parseSelector(v);
    } catch (e) {
      if (e instanceof SelectorError) this.fail(field, e.message);
      throw e;
    }
  }

  address(field: string, family: 4 | 6): string | undefined {
    const v = this.string(field);
    if (v === undefined) return undefined;
    const ip = parseAddress(v.includes("/") ? v.slice(0, v.indexOf("/")) : v);
    const prefix = v.includes("/") ? Number(v.slice(v.indexOf("/") + 1)) : family === 4 ? 32 : 128;
    const max = family === 4 ? 32 : 128;
    if (ip?.family !== family || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      this.fail(field, `not an IPv${family} address: ${JSON.stringify(v)}`);
    }
    return ip.text;
  }

  secretRef(field: string): SecretRef | undefined {
    if (!this.has(field)) return undefined;
    const ref = this.sub(field).sub("secretKeyRef");
    const name = ref.string("name");
    const key = ref.string("key");
    if (!name || !key) this.fail(`${field}.secretKeyRef`, "needs name and key");
    return { name, key };
  }

  labels(field: string): Record<string, string> {
    if (!this.has(field)) return {};
    const v = this.obj[field];
    if (typeof v !== "object" || Array.isArray(v)) this.fail(field, "not a map of strings");
    for (const [k, value] of Object.entries(v as Obj)) {
      if (typeof value !== "string") this.fail(`${field}.${k}`, "label value is not a string");
    }
    return { ...(v as Record<string, string>) };
  }
}

/** ASNumber: a uint32, as a JSON number, a decimal string or "a.b" meaning (a << 16) + b (asnumber.go). */
export function parseAsNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v : undefined;
  if (typeof v !== "string") return undefined;
  let m = /^(\d{1,10})$/.exec(v);
  if (m) {
    const n = Number(m[1]);
    return n <= 0xffffffff ? n : undefined;
  }
  m = /^(\d{1,5})\.(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  return hi <= 0xffff && lo <= 0xffff ? hi * 65536 + lo : undefined;
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go time.Duration string ("90s", "1m30s", "1.5h", "0") in seconds, rounded as Calico does. */
export function parseDuration(text: string): number | undefined {
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
    at = re.lastIndex;
  }
  return at === 0 ? undefined : Math.round(total);
}

/** An IPv4 or IPv6 address in canonical text form, or undefined. */
export function parseAddress(text: string): { family: 4 | 6; text: string } | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text))
    return { family: 4, text: ipaddr.IPv4.parse(text).toString() };
  if (ipaddr.IPv6.isValid(text) && !text.includes("%"))
    return { family: 6, text: ipaddr.IPv6.parse(text).toString() };
  return undefined;
}

/** "address/length" of either family, the address in canonical form; undefined when it is not one. */
export function parseCidr(text: string): { family: 4 | 6; prefix: string; bits: number } | undefined {
  const slash = text.indexOf("/");
  const ip = slash > 0 ? parseAddress(text.slice(0, slash)) : undefined;
  const bits = /^\d{1,3}$/.test(text.slice(slash + 1)) ? Number(text.slice(slash + 1)) : -1;
  if (!ip || bits < 0 || bits > (ip.family === 4 ? 32 : 128)) return undefined;
  return { family: ip.family, prefix: `${ip.text}/${bits}`, bits };
}

/** A prefix (address/length within its family's length) or an address: what /routes looks up. */
export const isPrefixOrAddress = (text: string): boolean =>
  (text.includes("/") ? parseCidr(text) : parseAddress(text)) !== undefined;

/** BGPPeer.peerIP: "IPv4", "IPv4:port", "IPv6" or "[IPv6]:port". */
export function parsePeerIp(text: string): { address: string; port?: number } | undefined {
  let host = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text);
  const v4port = /^([\d.]+):(\d{1,5})$/.exec(text);
  const m = bracketed ?? v4port;
  if (m) {
    host = m[1] as string;
    port = Number(m[2]);
    if (port < 1 || port > 65535) return undefined;
  }
  const ip = parseAddress(host);
  if (!ip) return undefined;
  return port === undefined ? { address: ip.text } : { address: ip.text, port };
}

function metadata(
  key: string,
  obj: Obj,
): { name: string; labels: Record<string, string>; annotations: Fields } {
  const f = new Fields(key, obj, "");
  const meta: Fields = f.sub("metadata");
  const name = meta.string("name");
  if (!name) meta.fail("name", "missing");
  return { name, labels: meta.labels("labels"), annotations: meta.sub("annotations") };
}

/**
 * A BGPPeer annotation of ours (Calico's schema has no such field): the most prefixes per address
 * family a peer it selects may send before its session is reset (RFC 4486 §4).
 */
export const MAX_PREFIXES_ANNOTATION = "routereflector/max-prefixes";

/** A whole number in decimal digits, from `min`; undefined when it is not one. */
export function parseWhole(text: string, min: number): number | undefined {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && Number.isSafeInteger(n) && n >= min ? n : undefined;
}

/** A count written as a decimal string (annotations and variables are strings): 1 or more. */
export function parseCount(text: string): number | undefined {
  return /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 0xffffffff ? Number(text) : undefined;
}

const API_VERSIONS = ["projectcalico.org/v3", "crd.projectcalico.org/v1"];

/**
 * A Calico resource object (the JSON value of an etcd key, a YAML document, a Kubernetes custom
 * resource). `key` names it in errors.
 */
export function parseResource(
  obj: unknown,
  key: string,
): NodeResource | BgpPeerResource | BgpConfigResource | BgpFilterResource | IpPoolResource {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new ResourceError(key, "(object)", "not an object");
  }
  const o = obj as Obj;
  const top = new Fields(key, o, "");
  const apiVersion = top.string("apiVersion");
  if (apiVersion !== undefined && !API_VERSIONS.includes(apiVersion)) {
    top.fail("apiVersion", `${JSON.stringify(apiVersion)} is not one of ${API_VERSIONS.join(", ")}`);
  }
  const kind = top.string("kind");
  const { name, labels, annotations } = metadata(key, o);
  const spec = top.sub("spec");
  switch (kind) {
    case "Node":
      return parseNodeSpec(name, labels, spec.sub("bgp"));
    case "BGPPeer":
      return parseBgpPeerSpec(name, spec, annotations);
    case "BGPConfiguration":
      return parseBgpConfigSpec(name, spec);
    case "BGPFilter":
      return parseBgpFilterSpec(name, spec);
    case "IPPool": {
      const cidr = spec.cidr("cidr");
      if (!cidr) return spec.fail("cidr", "required");
      return { kind: "IPPool", name, cidr, disableBGPExport: spec.boolean("disableBGPExport") ?? false };
    }
    default:
      return top.fail(
        "kind",
        `${JSON.stringify(kind)} is not Node, BGPPeer, BGPConfiguration, BGPFilter or IPPool`,
      );
  }
}

/** Where a node's BGP fields are: spec.bgp in a Calico Node, annotations on a Kubernetes Node. */
const NODE_FIELDS = {
  ipv4: "ipv4Address",
  ipv6: "ipv6Address",
  asNumber: "asNumber",
  clusterId: "routeReflectorClusterID",
};
const K8S_NODE_FIELDS: typeof NODE_FIELDS = {
  ipv4: "projectcalico.org/IPv4Address",
  ipv6: "projectcalico.org/IPv6Address",
  asNumber: "projectcalico.org/ASNumber",
  clusterId: "projectcalico.org/RouteReflectorClusterID",
};

function parseNodeSpec(name: string, labels: Labels, bgp: Fields, fields = NODE_FIELDS): NodeResource {
  const node: NodeResource = { kind: "Node", name, labels };
  const ipv4 = bgp.address(fields.ipv4, 4);
  const ipv6 = bgp.address(fields.ipv6, 6);
  const asNumber = bgp.asNumber(fields.asNumber);
  const clusterId = bgp.address(fields.clusterId, 4);
  if (ipv4) node.ipv4 = ipv4;
  if (ipv6) node.ipv6 = ipv6;
  if (asNumber !== undefined) node.asNumber = asNumber;
  if (clusterId) node.clusterId = clusterId;
  return node;
}

function parseBgpPeerSpec(name: string, spec: Fields, annotations: Fields): BgpPeerResource {
  const peer: BgpPeerResource = {
    kind: "BGPPeer",
    name,
    nextHopMode: "Auto",
    sourceAddress: spec.oneOf("sourceAddress", ["UseNodeIP", "None"] as const) ?? "UseNodeIP",
    reversePeering: spec.oneOf("reversePeering", ["Auto", "Manual"] as const) ?? "Auto",
  };
  const node = spec.string("node");
  const nodeSelector = spec.selector("nodeSelector");
  if (node !== undefined && nodeSelector) spec.fail("nodeSelector", "cannot be set together with node");
  if (node !== undefined) peer.node = node;
  if (nodeSelector) peer.nodeSelector = nodeSelector;

  const peerIpText = spec.string("peerIP");
  const peerSelector = spec.selector("peerSelector");
  const workloads = spec.string("localWorkloadSelector");
  if (peerIpText !== undefined && peerSelector)
    spec.fail("peerSelector", "cannot be set together with peerIP");
  if (peerIpText !== undefined) {
    const ip = parsePeerIp(peerIpText);
    if (!ip)
      spec.fail("peerIP", `not an IP address, IPv4:port or [IPv6]:port: ${JSON.stringify(peerIpText)}`);
    peer.peerIP = ip;
  }
  if (peerSelector) peer.peerSelector = peerSelector;
  if (workloads !== undefined) peer.localWorkloadSelector = workloads;
  if (!peer.peerIP && !peer.peerSelector && workloads === undefined) {
    spec.fail("peerIP", "one of peerIP, peerSelector or localWorkloadSelector is required");
  }

  const asNumber = spec.asNumber("asNumber");
  if (asNumber !== undefined && peerSelector) spec.fail("asNumber", "must be empty when peerSelector is set");
  if (asNumber === undefined && peer.peerIP) spec.fail("asNumber", "required with peerIP");
  if (asNumber !== undefined) peer.asNumber = asNumber;
  const localAs = spec.asNumber("localASNumber");
  if (localAs !== undefined) peer.localAsNumber = localAs;

  const mode = spec.oneOf("nextHopMode", ["Auto", "Self", "Keep"] as const);
  const keep = spec.boolean("keepOriginalNextHop");
  if (mode && keep) spec.fail("nextHopMode", "cannot be set together with keepOriginalNextHop");
  peer.nextHopMode = mode ?? (keep ? "Keep" : "Auto");

  const password = spec.secretRef("password");
  if (password) peer.password = password;
  const restart = spec.duration("maxRestartTime");
  if (restart !== undefined) peer.maxRestartTime = restart;
  const keepalive = spec.duration("keepaliveTime");
  if (keepalive !== undefined) peer.keepaliveTime = keepalive;
  const ttl = spec.integer("ttlSecurity", 0, 255);
  if (ttl) peer.ttlSecurity = ttl;
  const allowLocalAs = spec.integer("numAllowedLocalASNumbers", 0, 2 ** 31 - 1);
  if (allowLocalAs) peer.numAllowedLocalASNumbers = allowLocalAs;
  const filters = spec.strings("filters");
  if (filters.length) peer.filters = filters;
  const max = annotations.string(MAX_PREFIXES_ANNOTATION);
  if (max !== undefined) {
    const n = parseCount(max);
    if (n === undefined)
      annotations.fail(MAX_PREFIXES_ANNOTATION, `not a count of 1 or more: ${JSON.stringify(max)}`);
    peer.maxPrefixes = n;
  }
  return peer;
}

function parseBgpConfigSpec(name: string, spec: Fields): BgpConfigResource {
  const blocks = (field: string) =>
    spec.list(field, (f) => f.cidr("cidr")).filter((c): c is string => c !== undefined);
  // communities by name (spec.communities), or values written out
  const named = new Map(
    spec.list(
      "communities",
      (f) => [f.string("name") ?? "", community(f, "value", f.string("value"))] as const,
    ),
  );
  const config: BgpConfigResource = {
    kind: "BGPConfiguration",
    name,
    serviceClusterIPs: blocks("serviceClusterIPs"),
    serviceExternalIPs: blocks("serviceExternalIPs"),
    serviceLoadBalancerIPs: blocks("serviceLoadBalancerIPs"),
    prefixAdvertisements: spec.list("prefixAdvertisements", (f) => {
      const cidr = f.cidr("cidr");
      if (!cidr) return f.fail("cidr", "required");
      const communities = f
        .strings("communities")
        .map((c, i) => named.get(c) ?? community(f, `communities[${i}]`, c));
      return { cidr, communities };
    }),
  };
  const asNumber = spec.asNumber("asNumber");
  const mesh = spec.boolean("nodeToNodeMeshEnabled");
  // libcalico-go ValidateDefaultOnlyFields
  if (name !== "default" && (asNumber !== undefined || mesh !== undefined)) {
    spec.fail(asNumber !== undefined ? "asNumber" : "nodeToNodeMeshEnabled", "allowed only on 'default'");
  }
  if (asNumber !== undefined) config.asNumber = asNumber;
  if (mesh !== undefined) config.nodeToNodeMeshEnabled = mesh;
  const port = spec.integer("listenPort", 1, 65535);
  if (port !== undefined) config.listenPort = port;
  const severity = spec.string("logSeverityScreen");
  if (severity) config.logSeverityScreen = severity;
  const password = spec.secretRef("nodeMeshPassword");
  if (password) config.nodeMeshPassword = password;
  const restart = spec.duration("nodeMeshMaxRestartTime");
  if (restart !== undefined) config.nodeMeshMaxRestartTime = restart;
  const bindMode = spec.oneOf("bindMode", ["None", "NodeIP"] as const);
  if (bindMode) config.bindMode = bindMode;
  return config;
}

/** A community as Calico writes it: "a:b" with 16-bit parts, or "a:b:c" with 32-bit parts. */
function community(f: Fields, field: string, text: string | undefined): string {
  const parts = text?.split(":") ?? [];
  const max = parts.length === 2 ? 0xffff : 0xffffffff;
  const ok =
    (parts.length === 2 || parts.length === 3) &&
    parts.every((p) => /^(0|[1-9]\d{0,9})$/.test(p) && Number(p) <= max);
  if (!ok) f.fail(field, `not a community aa:nn or a large community aa:nn:mm: ${JSON.stringify(text)}`);
  return parts.map(Number).join(":");
}

/** A priority as Felix's route metrics (1 to 2^31 - 2). */
const PRIORITY_MAX = 2 ** 31 - 2;

/** One BGPFilter rule, with Calico's validation (api v3 bgpfilter.go and its CEL rules). */
function parseFilterRule(f: Fields, family: 4 | 6): FilterRule {
  const action = f.oneOf("action", ["Accept", "Reject"] as const);
  if (!action) f.fail("action", "required (Accept or Reject)");
  const rule: FilterRule = { action, operations: [] };
  const cidr = f.string("cidr");
  const operator = f.oneOf("matchOperator", ["Equal", "NotEqual", "In", "NotIn"] as const);
  if ((cidr === undefined) !== (operator === undefined))
    f.fail(
      cidr === undefined ? "cidr" : "matchOperator",
      "cidr and matchOperator must both be set or both be empty",
    );
  const hasLengths = f.has("prefixLength");
  if (hasLengths && cidr === undefined) f.fail("prefixLength", "cidr is required when prefixLength is set");
  if (cidr !== undefined && operator) {
    const max = family === 4 ? 32 : 128;
    const c = parseCidr(cidr);
    if (c?.family !== family) return f.fail("cidr", `not an IPv${family} CIDR: ${JSON.stringify(cidr)}`);
    const { bits } = c;
    rule.cidr = { prefix: c.prefix, operator };
    if (hasLengths) {
      // confd writes `net = [ set ]`, which BIRD cannot evaluate (1.6: a runtime error that
      // rejects the route; 2: never equal)
      if (operator === "Equal" || operator === "NotEqual")
        f.fail("prefixLength", `cannot be used with matchOperator ${operator}, only In and NotIn`);
      // confd (filterMatchPrefixLength): from the longer of the CIDR's length and min, to max.
      const lengths = f.sub("prefixLength");
      const min = Math.max(bits, lengths.integer("min", 0, max) ?? 0);
      const top = Math.min(max, lengths.integer("max", 0, max) ?? max);
      if (min > top) f.fail("prefixLength", `no length from ${min} to ${top} (BIRD refuses such a set)`);
      rule.cidr.lengths = { min, max: top };
    }
  }
  const source = f.oneOf("source", ["RemotePeers"] as const);
  if (source) rule.source = source;
  const iface = f.string("interface");
  if (iface !== undefined) {
    if (!/^[\w.*:-]{1,15}$/.test(iface))
      f.fail("interface", `not an interface name or pattern: ${JSON.stringify(iface)}`);
    rule.interface = iface;
  }
  const peerType = f.oneOf("peerType", ["eBGP", "iBGP"] as const);
  if (peerType) rule.peerType = peerType;
  if (f.has("communities")) {
    const values = f.sub("communities").strings("values");
    if (values.length !== 1) f.fail("communities.values", "exactly one value");
    rule.community = community(f, "communities.values[0]", values[0]);
  }
  const path = f.asNumbers("asPathPrefix", 0, Number.POSITIVE_INFINITY);
  if (path.length) rule.asPathPrefix = path;
  const priority = f.integer("priority", 1, PRIORITY_MAX);
  if (priority !== undefined) rule.priority = priority;
  rule.operations = f.list(
    "operations",
    (op): FilterOperation => {
      const set = ["addCommunity", "prependASPath", "setPriority"].filter((k) => op.has(k));
      if (set.length !== 1) op.fail("", "exactly one of addCommunity, prependASPath or setPriority");
      if (set[0] === "addCommunity") {
        const add = op.sub("addCommunity");
        return { addCommunity: community(add, "value", add.string("value")) };
      }
      if (set[0] === "prependASPath")
        return { prependAsPath: op.sub("prependASPath").asNumbers("prefix", 1, 10) };
      const value = op.sub("setPriority").integer("value", 1, PRIORITY_MAX);
      if (value === undefined) return op.fail("setPriority.value", "required");
      return { setPriority: value };
    },
    10,
  );
  if (rule.operations.length && action !== "Accept")
    f.fail("operations", "may only be used with action Accept");
  return rule;
}

function parseBgpFilterSpec(name: string, spec: Fields): BgpFilterResource {
  return {
    kind: "BGPFilter",
    name,
    importV4: spec.list("importV4", (f) => parseFilterRule(f, 4)),
    exportV4: spec.list("exportV4", (f) => parseFilterRule(f, 4)),
    importV6: spec.list("importV6", (f) => parseFilterRule(f, 6)),
    exportV6: spec.list("exportV6", (f) => parseFilterRule(f, 6)),
  };
}

/**
 * A Kubernetes v1 Node as Calico sees it (libcalico-go k8s/resources/node.go K8sNodeToCalico):
 * BGP fields from projectcalico.org/ annotations, labels from the projectcalico.org/labels
 * annotation with the Kubernetes labels merged on top (Kubernetes wins).
 */
export function parseKubernetesNode(obj: unknown, key: string): NodeResource {
  if (typeof obj !== "object" || obj === null) throw new ResourceError(key, "(object)", "not an object");
  const { name, labels } = metadata(key, obj as Obj);
  const annotations = new Fields(key, obj as Obj, "").sub("metadata").sub("annotations");
  let calicoLabels: Record<string, string> = {};
  const labelJson = annotations.string("projectcalico.org/labels");
  if (labelJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(labelJson);
    } catch {
      annotations.fail("projectcalico.org/labels", "not JSON");
    }
    calicoLabels = new Fields(key, { labels: parsed }, "metadata.annotations").labels("labels");
  }
  return parseNodeSpec(name, { ...calicoLabels, ...labels }, annotations, K8S_NODE_FIELDS);
}

/** The JSON value of a legacy rr_v4 / rr_v6 key: {"ip", "cluster_id"} (and our "mesh"). */
export function parseReflectorEntry(obj: unknown, key: string, family: 4 | 6): ReflectorEntry {
  if (typeof obj !== "object" || obj === null) throw new ResourceError(key, "(value)", "not a JSON object");
  const f: Fields = new Fields(key, obj as Obj, "");
  const ip = f.address("ip", family);
  if (!ip) f.fail("ip", "missing");
  const entry: ReflectorEntry = { kind: "ReflectorEntry", name: ip, ip, mesh: f.string("mesh") ?? "" };
  const clusterId = f.address("cluster_id", 4);
  if (clusterId) entry.clusterId = clusterId;
  return entry;
}
