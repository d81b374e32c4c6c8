// Which BGP sessions this reflector runs, computed from Calico's resources
// (shared/calico-datamodel.md §1.3 and §5).
//
// Node mode: the reflector is a Calico Node (NODENAME, or the Node whose address is our IP). We
// compute what calico/node's confd computes for that node: global and node-specific BGPPeers,
// automatic reverse peerings, the node-to-node mesh, then BIRD's per-peer rules (rr client when
// the peer is iBGP and outside our cluster, passive towards higher-addressed Calico nodes).
//
// Legacy mode, as the calico/routereflector image: a global BGPPeer whose peerIP is our IP makes us
// peer with every Calico node; a node-specific one with our IP, with its nodes; all of them are
// route-reflector clients with the BGPPeer's AS. Legacy rr_v4/rr_v6 entries form a full mesh of
// reflectors (one mesh per `mesh` name). BGPPeers whose node is our NODENAME add external peers.
//
// In both modes a peering from a BGPPeer carries the rules of the BGPFilters it names, in order,
// for its family (bgp_processor.go buildImportFilter / buildExportFilter).
import type {
  BgpConfigResource,
  BgpFilterResource,
  BgpPeerResource,
  FilterRule,
  IpPoolResource,
  NextHopMode,
  NodeResource,
  ReflectorEntry,
  SecretRef,
} from "./resources.js";

export const DEFAULT_AS = 64512;
export const BGP_PORT = 179;

export type PeerType = "global" | "node specific" | "node-to-node mesh" | "reflector mesh" | "external";

/** One session to run, with everything that decides how it runs. Equal specs: nothing to change. */
export interface PeerSpec {
  /** BIRD-style protocol name, as calico/node would name it: Global_10_0_0_1, Node_..., Mesh_... */
  name: string;
  type: PeerType;
  address: string;
  port: number;
  peerAs: number;
  localAs: number;
  /** a route-reflector client, reflected to with this cluster ID */
  rrClient: boolean;
  clusterId?: string;
  password?: string;
  /** bind our side to this address */
  sourceAddress?: string;
  /** wait for the peer to connect */
  passive: boolean;
  /** graceful restart time (seconds) */
  restartTime?: number;
  keepaliveTime?: number;
  nextHopMode: NextHopMode;
  /** RFC 5082 GTSM: the peer is at most this many hops away */
  ttlSecurity?: number;
  /** RFC 4486 §4: reset the session above this many prefixes per family */
  maxPrefixes?: number;
  /** RFC 4271 §9.1.2: how many times our AS may be in a received AS_PATH before it is a loop */
  allowLocalAs?: number;
  /**
   * RFC 7911 ADD-PATH, offered for sending and receiving as calico/node's BIRD does (`add paths
   * on`): every path of a prefix (all), the best N, or not offered (off)
   */
  addPaths?: AddPaths;
  /** the BGPFilter rules of the BGPPeer it comes from, for its family */
  filters?: PeerFilters;
  /** the resources this peering comes from (for logs and status) */
  from: string;
}

/**
 * The rules of a peering's BGPFilters for its family, each filter's after the one before: the
 * first rule that applies decides; when none does, an import is accepted and an export goes on
 * to the default export policy.
 */
export interface PeerFilters {
  /** the BGPFilters, in the BGPPeer's order */
  names: string[];
  import: FilterRule[];
  export: FilterRule[];
  /** node mode: what calico/node's export does with a route no rule decided */
  defaultExport?: DefaultExport;
}

/**
 * calico/node's default export (calico_export_to_bgp_peers, bird_ipam.cfg.template) for one
 * family: rejected within an IP pool with disableBGPExport; communities added within a
 * prefixAdvertisements CIDR; accepted within a service address range (serviceClusterIPs,
 * serviceExternalIPs, serviceLoadBalancerIPs) or another IP pool; everything else rejected.
 */
export interface DefaultExport {
  reject: string[];
  accept: string[];
  communities: { cidr: string; communities: string[] }[];
}

/** ADD-PATH towards a peer: every path, the best N, or off. */
export type AddPaths = "all" | "off" | number;

/** What the reflector knows about itself, from the environment. */
export interface Identity {
  /** IP: router ID and IPv4 bind address */
  ip?: string;
  /** IP6: IPv6 bind address */
  ip6?: string;
  /** NODENAME: run as this Calico Node */
  nodeName?: string;
  /** CLUSTER_ID: our cluster ID in legacy mode */
  clusterId?: string;
  /** MAX_PREFIXES: the limit for peers without one of their own */
  maxPrefixes?: number;
  /** ADD_PATHS: ADD-PATH on every peering (default all, as calico/node) */
  addPaths?: AddPaths;
}

export interface Snapshot {
  nodes: ReadonlyMap<string, NodeResource>;
  peers: ReadonlyMap<string, BgpPeerResource>;
  configs: ReadonlyMap<string, BgpConfigResource>;
  filters: ReadonlyMap<string, BgpFilterResource>;
  pools: ReadonlyMap<string, IpPoolResource>;
  reflectors: ReadonlyMap<string, ReflectorEntry>;
}

export interface Peerings {
  mode: "node" | "legacy";
  /** the Calico Node we run as, in node mode */
  node?: string;
  routerId?: string;
  localAs: number;
  clusterId?: string;
  listenPort: number;
  /** listen on the node's address only (BGPConfiguration bindMode NodeIP) */
  bindAddress?: string;
  logSeverity?: string;
  peers: PeerSpec[];
  /** things a user should know: a BGPPeer that cannot apply, a missing secret */
  warnings: string[];
}

/** Looks up a secret's value (a Kubernetes Secret, a mounted secret file). */
export type SecretLookup = (ref: SecretRef) => string | undefined;

const byName = <T extends { name: string }>(m: ReadonlyMap<string, T>): T[] =>
  [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/** BIRD protocol names, as confd writes them: dots and colons become underscores. */
function protocolName(prefix: string, address: string, port: number): string {
  const base = `${prefix}_${address.replace(/[.:]/g, "_")}`;
  return port && port !== BGP_PORT ? `${base}_port_${port}` : base;
}

/** Go string comparison (confd compares IPs as strings for the passive rule). */
const goGreater = (a: string, b: string): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;

/** Calico's view of the datastore: global AS, listen ports, node addresses. */
class Cluster {
  readonly globalAs: number;
  readonly globalPort: number;
  readonly meshEnabled: boolean;
  readonly nodes: NodeResource[];
  readonly nodeIps = new Set<string>();
  private readonly nodePorts = new Map<string, number>();

  constructor(
    readonly snap: Snapshot,
    private readonly secrets: SecretLookup,
    readonly warnings: string[],
  ) {
    const global = snap.configs.get("default");
    this.globalAs = global?.asNumber ?? DEFAULT_AS;
    this.globalPort = global?.listenPort ?? 0;
    this.meshEnabled = global?.nodeToNodeMeshEnabled ?? true;
    this.nodes = byName(snap.nodes);
    for (const n of this.nodes) {
      if (n.ipv4) this.nodeIps.add(n.ipv4);
      if (n.ipv6) this.nodeIps.add(n.ipv6);
      const port = snap.configs.get(`node.${n.name}`)?.listenPort;
      if (port) this.nodePorts.set(n.name, port);
    }
  }

  nodeAs(n: NodeResource): number {
    return n.asNumber ?? this.globalAs;
  }

  /** the port a node listens on; 0 is BGP's own */
  nodePort(n: NodeResource): number {
    return this.nodePorts.get(n.name) ?? this.globalPort;
  }

  private readonly matched = new Map<string, NodeResource[]>();

  /** the nodes a BGPPeer's selector selects (once per Cluster: computePeeringsOfNodes shares it) */
  matching(peer: BgpPeerResource, side: "nodeSelector" | "peerSelector"): NodeResource[] {
    const key = `${side}\u0000${peer.name}`;
    let nodes = this.matched.get(key);
    if (!nodes) {
      const sel = peer[side];
      nodes = sel ? this.nodes.filter((n) => sel.matches(n.labels)) : [];
      this.matched.set(key, nodes);
    }
    return nodes;
  }

  /** client.go nodesWithIPPortAndAS */
  nodesWithIpPortAndAs(
    address: string,
    asNumber: number | undefined,
    port: number | undefined,
  ): NodeResource[] {
    const as = asNumber ?? this.globalAs;
    return this.nodes.filter((n) => {
      if (n.ipv4 !== address && n.ipv6 !== address) return false;
      if (this.nodeAs(n) !== as) return false;
      if (port) {
        const nodePort = this.nodePorts.get(n.name);
        if (nodePort !== undefined ? nodePort !== port : this.globalPort !== 0 && this.globalPort !== port) {
          return false;
        }
      }
      return true;
    });
  }

  password(ref: SecretRef | undefined, owner: string): string | undefined {
    if (!ref) return undefined;
    const value = this.secrets(ref);
    if (value === undefined) {
      this.warnings.push(`${owner}: secret ${ref.name}/${ref.key} not found; peering without a password`);
    }
    return value;
  }

  /**
   * A BGPPeer's filters for one family. A name with no BGPFilter is skipped, as confd skips it,
   * and said.
   */
  filters(p: BgpPeerResource, family: 4 | 6): PeerFilters | undefined {
    if (!p.filters?.length) return undefined;
    const out: PeerFilters = { names: [], import: [], export: [] };
    for (const name of p.filters) {
      const f = this.snap.filters.get(name);
      if (!f) {
        this.warnings.push(`bgppeers/${p.name}: BGPFilter ${name} not found; its rules are not applied`);
        continue;
      }
      const [imports, exports] = family === 4 ? [f.importV4, f.exportV4] : [f.importV6, f.exportV6];
      if (imports.some((r) => r.interface) || exports.some((r) => r.interface)) {
        this.warnings.push(
          `bgpfilters/${name}: a rule with interface matches no reflected route (a reflector installs no routes, so they have no outgoing interface)`,
        );
      }
      out.names.push(name);
      out.import.push(...imports);
      out.export.push(...exports);
    }
    return out.import.length || out.export.length ? out : undefined;
  }

  /** The session settings a BGPPeer gives every peering it makes, of this family. */
  settingsOf(
    p: BgpPeerResource,
    family: 4 | 6,
  ): Pick<
    PeerSpec,
    | "from"
    | "password"
    | "restartTime"
    | "keepaliveTime"
    | "ttlSecurity"
    | "maxPrefixes"
    | "allowLocalAs"
    | "filters"
  > {
    const from = `bgppeers/${p.name}`;
    const password = this.password(p.password, from);
    const filters = this.filters(p, family);
    return {
      from,
      ...(filters ? { filters } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(p.maxRestartTime !== undefined ? { restartTime: p.maxRestartTime } : {}),
      ...(p.keepaliveTime !== undefined ? { keepaliveTime: p.keepaliveTime } : {}),
      ...(p.ttlSecurity ? { ttlSecurity: p.ttlSecurity } : {}),
      ...(p.maxPrefixes ? { maxPrefixes: p.maxPrefixes } : {}),
      ...(p.numAllowedLocalASNumbers ? { allowLocalAs: p.numAllowedLocalASNumbers } : {}),
    };
  }
}

/** A peering before the per-session rules: confd's v1 bgpPeer. */
interface Candidate {
  address: string;
  family: 4 | 6;
  port: number;
  asNumber: number;
  clusterId: string;
  calicoNode: boolean;
  from: BgpPeerResource;
}

function nodeAsPeers(
  c: Cluster,
  n: NodeResource,
  v4: boolean,
  v6: boolean,
  from: BgpPeerResource,
): Candidate[] {
  const out: Candidate[] = [];
  const common = {
    port: c.nodePort(n),
    asNumber: c.nodeAs(n),
    clusterId: n.clusterId ?? "",
    calicoNode: true,
    from,
  };
  if (v4 && n.ipv4) out.push({ address: n.ipv4, family: 4, ...common });
  if (v6 && n.ipv6) out.push({ address: n.ipv6, family: 6, ...common });
  return out;
}

function peerIpCandidate(c: Cluster, p: BgpPeerResource): Candidate | undefined {
  if (!p.peerIP) return undefined;
  const { address } = p.peerIP;
  let port = p.peerIP.port ?? 0;
  if (!port) {
    const owner = c.nodesWithIpPortAndAs(address, p.asNumber, 0)[0];
    if (owner) port = c.nodePort(owner);
  }
  return {
    address,
    family: address.includes(":") ? 6 : 4,
    port,
    asNumber: p.asNumber ?? c.globalAs,
    clusterId: "",
    calicoNode: c.nodeIps.has(address),
    from: p,
  };
}

/** The v1 peerings of one node, in the order confd emits them (client.go updatePeersV1). */
function peeringsOf(c: Cluster, self: NodeResource): { global: Candidate[]; node: Candidate[] } {
  const globalKeys = new Map<string, Candidate>();
  const nodeKeys = new Map<string, Candidate>();
  const keyOf = (p: Candidate) => `${p.address}-${p.port}`;
  const emit = (map: Map<string, Candidate>, p: Candidate) => {
    const key = keyOf(p);
    // The first writer of a key wins; a node-specific key yields to a global one.
    if (map.has(key) || (map === nodeKeys && globalKeys.has(key))) return;
    map.set(key, p);
  };
  const peers = byName(c.snap.peers).filter((p) => !p.localWorkloadSelector);
  for (const globalPass of [true, false]) {
    for (const p of peers) {
      const isGlobal = !p.node && !p.nodeSelector;
      if (globalPass !== isGlobal) continue;
      if (!isGlobal) {
        const local = p.nodeSelector
          ? c.matching(p, "nodeSelector")
          : c.nodes.filter((n) => n.name === p.node);
        if (!local.some((n) => n.name === self.name)) continue;
      }
      const candidates = p.peerSelector
        ? c.matching(p, "peerSelector").flatMap((n) => nodeAsPeers(c, n, true, true, p))
        : [peerIpCandidate(c, p)].filter((x) => x !== undefined);
      for (const cand of candidates) emit(isGlobal ? globalKeys : nodeKeys, cand);
    }
  }
  // Automatic reverse peerings: the nodes a BGPPeer points at peer back with its local nodes.
  for (const p of peers) {
    if (p.reversePeering === "Manual") continue;
    let local: NodeResource[];
    let v4 = true;
    let v6 = true;
    if (p.peerSelector) {
      local = c.matching(p, "peerSelector");
    } else if (p.peerIP) {
      local = c.nodesWithIpPortAndAs(p.peerIP.address, p.asNumber, p.peerIP.port);
      v4 = !p.peerIP.address.includes(":");
      v6 = !v4;
    } else {
      continue;
    }
    if (!local.some((n) => n.name === self.name)) continue;
    const remote = p.nodeSelector
      ? c.matching(p, "nodeSelector")
      : p.node
        ? c.nodes.filter((n) => n.name === p.node)
        : c.nodes;
    for (const n of remote) for (const cand of nodeAsPeers(c, n, v4, v6, p)) emit(nodeKeys, cand);
  }
  return { global: [...globalKeys.values()], node: [...nodeKeys.values()] };
}

/** The node we run as: NODENAME, else the Node whose address is our IP or IP6. */
function ourNode(snap: Snapshot, id: Identity): NodeResource | undefined {
  if (id.nodeName) return snap.nodes.get(id.nodeName);
  for (const n of byName(snap.nodes)) {
    if ((id.ip && n.ipv4 === id.ip) || (id.ip6 && n.ipv6 === id.ip6)) return n;
  }
  return undefined;
}

export function computePeerings(
  snap: Snapshot,
  id: Identity,
  secrets: SecretLookup = () => undefined,
): Peerings {
  return peeringsIn(new Cluster(snap, secrets, []), id);
}

/**
 * The peerings of each of these Calico Nodes, as each one's calico/node computes them: what a
 * simulation of many nodes needs, with the selectors evaluated once for all of them.
 */
export function computePeeringsOfNodes(snap: Snapshot, names: readonly string[]): Map<string, Peerings> {
  const c = new Cluster(snap, () => undefined, []);
  const out = new Map<string, Peerings>();
  for (const nodeName of names) {
    c.warnings.length = 0;
    out.set(nodeName, peeringsIn(c, { nodeName }));
  }
  return out;
}

function peeringsIn(c: Cluster, id: Identity): Peerings {
  const snap = c.snap;
  const warnings = c.warnings;
  for (const p of byName(snap.peers)) {
    if (p.localWorkloadSelector) {
      warnings.push(`bgppeers/${p.name}: localWorkloadSelector peerings are for workload hosts; ignored`);
    }
  }
  const self = ourNode(snap, id);
  if (id.nodeName && !self)
    warnings.push(`NODENAME ${id.nodeName}: no Calico Node of that name; running as a legacy reflector`);
  const peerings = self ? nodeMode(c, self, id) : legacyMode(c, id);
  peerings.peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of peerings.peers) {
    if (id.maxPrefixes) p.maxPrefixes ??= id.maxPrefixes;
    p.addPaths = id.addPaths ?? "all";
  }
  return peerings;
}

/**
 * The BGPPeer the reflector assignment writes to mesh the reflectors (assignment.ts): a node's
 * reflectors are R of M, so the routes of nodes with none in common go from reflector to
 * reflector (RFC 4456 §8: a client's routes are reflected to non-clients). Its name cannot be a
 * reflector's (those begin routereflector-).
 */
export const MESH_PEER = "routereflectors";

/**
 * A peering from a BGPPeer, by BIRD's per-peer rules (bgp_processor.go buildPeerFromData). We are a
 * reflector when we have a cluster ID (a legacy reflector always is: its router ID is the cluster
 * ID); then an iBGP peer outside our cluster is a client. eBGP peers never are.
 */
function peerSpec(
  c: Cluster,
  cand: Candidate,
  kind: "Global" | "Node",
  mine: string,
  ourAs: number,
  clusterId: string | undefined,
  reflector = clusterId !== undefined,
): PeerSpec {
  const p = cand.from;
  const localAs = p.localAsNumber ?? ourAs;
  const iBgp = cand.asNumber === localAs;
  // The assignment's mesh of reflectors (its own BGPPeer, between our instances only) is one of
  // non-clients, as RFC 4456 §5 meshes reflectors: a client's route crosses one reflector-to-
  // reflector hop. As clients of each other (the rule below, for reflectors of other cluster
  // IDs), each would pass every route on to the others, through every order of them.
  const rrClient = iBgp && reflector && cand.clusterId !== (clusterId ?? "") && p.name !== MESH_PEER;
  return {
    name: protocolName(kind, cand.address, cand.port),
    type: !cand.calicoNode ? "external" : kind === "Global" ? "global" : "node specific",
    address: cand.address,
    port: cand.port || BGP_PORT,
    peerAs: cand.asNumber,
    localAs,
    rrClient,
    ...(rrClient && clusterId ? { clusterId } : {}),
    ...(p.sourceAddress === "UseNodeIP" ? { sourceAddress: mine } : {}),
    // Global peerings are passive towards a Calico node with a higher address; node ones never.
    passive: kind === "Global" && cand.calicoNode && goGreater(cand.address, mine),
    // keepOriginalNextHop / Keep applies to eBGP only
    nextHopMode: p.nextHopMode === "Keep" && iBgp ? "Auto" : p.nextHopMode,
    ...c.settingsOf(p, cand.family),
  };
}

function nodeMode(c: Cluster, self: NodeResource, id: Identity): Peerings {
  const localAs = c.nodeAs(self);
  const clusterId = self.clusterId ?? "";
  const ourIp = { 4: self.ipv4 ?? id.ip, 6: self.ipv6 ?? id.ip6 } as const;
  const bindMode =
    c.snap.configs.get(`node.${self.name}`)?.bindMode ?? c.snap.configs.get("default")?.bindMode;
  const out: PeerSpec[] = [];
  const global = c.snap.configs.get("default");
  const logSeverity =
    c.snap.configs.get(`node.${self.name}`)?.logSeverityScreen ?? global?.logSeverityScreen ?? undefined;

  // bgp_processor.go processMeshPeers: not on a route reflector, not to route reflectors.
  if (c.meshEnabled && !clusterId) {
    const password = c.password(global?.nodeMeshPassword, "bgpconfigurations/default nodeMeshPassword");
    for (const n of c.nodes) {
      if (n.name === self.name || n.clusterId) continue;
      for (const family of [4, 6] as const) {
        const address = family === 4 ? n.ipv4 : n.ipv6;
        const mine = ourIp[family];
        if (!address || !mine) continue;
        const port = c.nodePort(n);
        out.push({
          name: protocolName("Mesh", address, port),
          type: "node-to-node mesh",
          address,
          port: port || BGP_PORT,
          peerAs: c.nodeAs(n),
          localAs,
          rrClient: false,
          sourceAddress: mine,
          passive: goGreater(address, mine),
          nextHopMode: "Auto",
          from: "node-to-node mesh",
          ...(password ? { password } : {}),
          ...(global?.nodeMeshMaxRestartTime !== undefined
            ? { restartTime: global.nodeMeshMaxRestartTime }
            : {}),
        });
      }
    }
  }

  const { global: globals, node: specifics } = peeringsOf(c, self);
  const add = (cand: Candidate, kind: "Global" | "Node") => {
    const mine = ourIp[cand.family];
    if (!mine || cand.address === mine) return;
    out.push(peerSpec(c, cand, kind, mine, localAs, clusterId || undefined));
  };
  for (const cand of globals) add(cand, "Global");
  for (const cand of specifics) add(cand, "Node");

  // calico/node ends every export filter with calico_export_to_bgp_peers
  const defaults = { 4: defaultExport(c, self, 4), 6: defaultExport(c, self, 6) };
  if (c.snap.pools.size === 0 && out.length) {
    c.warnings.push(
      "no IPPool in the datastore: every route is exported (calico/node would export only IP pool and service routes)",
    );
  }
  for (const spec of out) {
    const d = defaults[spec.address.includes(":") ? 6 : 4];
    if (d) spec.filters = { ...(spec.filters ?? { names: [], import: [], export: [] }), defaultExport: d };
  }

  const listenPort = c.nodePort(self) || BGP_PORT;
  return {
    mode: "node",
    node: self.name,
    routerId: id.ip ?? self.ipv4,
    localAs,
    ...(clusterId ? { clusterId } : {}),
    listenPort,
    ...(bindMode === "NodeIP" && self.ipv4 ? { bindAddress: self.ipv4 } : {}),
    ...(logSeverity ? { logSeverity } : {}),
    peers: dedupe(out),
    warnings: [...new Set(c.warnings)],
  };
}

/**
 * calico/node's calico_export_to_bgp_peers for one family (bird_ipam.cfg.template): none without
 * IP pools (then every route goes, as from the old image). The prefix advertisements of the
 * node's own BGPConfiguration, else of the default one.
 */
function defaultExport(c: Cluster, self: NodeResource, family: 4 | 6): DefaultExport | undefined {
  if (c.snap.pools.size === 0) return undefined;
  const ofFamily = (cidr: string) => cidr.includes(":") === (family === 6);
  const pools = byName(c.snap.pools).filter((p) => ofFamily(p.cidr));
  const global = c.snap.configs.get("default");
  const own = c.snap.configs.get(`node.${self.name}`);
  const adverts = own?.prefixAdvertisements.length
    ? own.prefixAdvertisements
    : (global?.prefixAdvertisements ?? []);
  return {
    reject: pools.filter((p) => p.disableBGPExport).map((p) => p.cidr),
    accept: [
      ...(global?.serviceClusterIPs ?? []),
      ...(global?.serviceExternalIPs ?? []),
      ...(global?.serviceLoadBalancerIPs ?? []),
      ...pools.filter((p) => !p.disableBGPExport).map((p) => p.cidr),
    ].filter(ofFamily),
    communities: adverts.filter((a) => ofFamily(a.cidr)),
  };
}

function legacyMode(c: Cluster, id: Identity): Peerings {
  const ours = { 4: id.ip, 6: id.ip6 } as const;
  const own =
    (id.ip && c.snap.reflectors.get(id.ip)) || (id.ip6 && c.snap.reflectors.get(id.ip6)) || undefined;
  const clusterId = id.clusterId ?? own?.clusterId;
  const out: PeerSpec[] = [];
  const client = (n: NodeResource, family: 4 | 6, p: BgpPeerResource, kind: "Global" | "Node") => {
    const address = family === 4 ? n.ipv4 : n.ipv6;
    const mine = ours[family];
    if (!address || !mine || address === mine) return;
    const as = p.asNumber ?? c.globalAs;
    const port = c.nodePort(n);
    out.push({
      name: protocolName(kind, address, port),
      type: kind === "Global" ? "global" : "node specific",
      address,
      port: port || BGP_PORT,
      peerAs: as,
      localAs: as,
      rrClient: true,
      ...(clusterId ? { clusterId } : {}),
      sourceAddress: mine,
      passive: false,
      nextHopMode: "Auto",
      ...c.settingsOf(p, family),
    });
  };
  const peers = byName(c.snap.peers).filter((p) => !p.localWorkloadSelector);
  for (const globalPass of [true, false]) {
    for (const p of peers) {
      const isGlobal = !p.node && !p.nodeSelector;
      if (globalPass !== isGlobal || !p.peerIP) continue;
      const family = p.peerIP.address.includes(":") ? 6 : 4;
      const mine = ours[family];
      if (p.peerIP.address === mine) {
        const nodes = isGlobal
          ? c.nodes
          : p.nodeSelector
            ? c.matching(p, "nodeSelector")
            : c.nodes.filter((n) => n.name === p.node);
        for (const n of nodes) client(n, family, p, isGlobal ? "Global" : "Node");
      } else if (!isGlobal && id.nodeName && p.node === id.nodeName && mine) {
        // A BGPPeer for our NODENAME: a peer that is not a Calico node, such as an edge router.
        out.push(peerSpec(c, peerIpCandidate(c, p) as Candidate, "Node", mine, c.globalAs, clusterId, true));
      }
    }
  }
  // The reflector mesh, as the old image's "RR cluster" branch: only when we are listed ourselves.
  if (own) {
    for (const r of byName(c.snap.reflectors)) {
      const family = r.ip.includes(":") ? 6 : 4;
      const mine = ours[family];
      if (r === own || r.mesh !== own.mesh || !mine || r.ip === mine) continue;
      out.push({
        name: protocolName("Mesh", r.ip, 0),
        type: "reflector mesh",
        address: r.ip,
        port: BGP_PORT,
        peerAs: c.globalAs,
        localAs: c.globalAs,
        rrClient: false,
        sourceAddress: mine,
        passive: false,
        nextHopMode: "Auto",
        from: `rr_v${family}/${r.ip}`,
      });
    }
  }
  return {
    mode: "legacy",
    ...(id.ip ? { routerId: id.ip } : {}),
    localAs: c.globalAs,
    ...(clusterId ? { clusterId } : {}),
    listenPort: c.globalPort || BGP_PORT,
    ...(c.snap.configs.get("default")?.logSeverityScreen
      ? { logSeverity: c.snap.configs.get("default")?.logSeverityScreen as string }
      : {}),
    peers: dedupe(out),
    warnings: [...new Set(c.warnings)],
  };
}

/** One session per peer address: the first peering for an address wins, as in confd's key maps. */
function dedupe(specs: PeerSpec[]): PeerSpec[] {
  const seen = new Set<string>();
  return specs.filter((s) => {
    if (seen.has(s.address)) return false;
    seen.add(s.address);
    return true;
  });
}
