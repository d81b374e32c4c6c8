// Calico resources as the reflector needs them: Node, BGPPeer, BGPConfiguration (projectcalico.org/v3
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

export type Resource = NodeResource | BgpPeerResource | BgpConfigResource | ReflectorEntry;
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
    throw new ResourceError(this.key, this.path ? `${this.path}.${field}` : field, reason);
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

/** A count written as a decimal string (annotations and variables are strings): 1 or more. */
export function parseCount(text: string): number | undefined {
  return /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 0xffffffff ? Number(text) : undefined;
}

const API_VERSIONS = ["projectcalico.org/v3", "crd.projectcalico.org/v1"];

/**
 * A Calico resource object (the JSON value of an etcd key, a YAML document, a Kubernetes custom
 * resource). `key` names it in errors.
 */
export function parseResource(obj: unknown, key: string): NodeResource | BgpPeerResource | BgpConfigResource {
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
    default:
      return top.fail("kind", `${JSON.stringify(kind)} is not Node, BGPPeer or BGPConfiguration`);
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
  const config: BgpConfigResource = { kind: "BGPConfiguration", name };
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
