// The configuration contract: the calico/routereflector image's environment variables, kept exactly,
// plus our own. Every variable has a command-line flag (--ip, --etcd-endpoints, ...) that wins over
// it. A missing or invalid value stops start-up with a message naming the variable.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  type AddPaths,
  type EtcdAccess,
  type KubernetesOverrides,
  parseAddress,
  parseCount,
  parseWhole,
} from "../datastore/index.js";

export type DatastoreType = "file" | "etcdv3" | "kubernetes";

export interface Config {
  /** CALICO_ROUTER_ID: our BGP identifier when it is not IP (an IPv6-only reflector needs one) */
  routerId?: string;
  ip?: string;
  ip6?: string;
  nodeName?: string;
  clusterId?: string;
  datastoreType: DatastoreType;
  datastoreFile: string;
  /** true when DATASTORE_FILE was not given: the embedded default */
  embeddedDefault: boolean;
  etcdEndpoints: string[];
  /** ETCD_DISCOVERY_SRV: the endpoints are this domain's SRV records instead (datastore/etcd.ts discoverEtcd) */
  etcdDiscoverySrv?: string;
  etcdTls: EtcdAccess;
  kubeconfig?: string;
  /** K8S_API_ENDPOINT, K8S_CA_FILE, ...: over the kubeconfig's, as libcalico-go's apiconfig */
  kubernetes?: KubernetesOverrides;
  apiGroup?: string;
  /** namespace of the Secrets that hold BGP passwords (calico/node's NAMESPACE) */
  namespace: string;
  logLevel: string;
  /** LOG_LEVEL was given: BGPConfiguration logSeverityScreen does not override it */
  logLevelSet: boolean;
  /** the most prefixes per family a peer may send, unless its BGPPeer says otherwise */
  maxPrefixes?: number;
  /** RFC 7911 ADD-PATH on every peering: every path (calico/node's BIRD), the best N, or off */
  addPaths: AddPaths;
  /** host:port of the HTTP endpoint, or undefined when off */
  httpListen?: { host: string; port: number };
  /** the reflector assignment: R (ASSIGN_REFLECTORS) when on here, and its settings either way */
  assignment: AssignmentConfig;
}

export interface AssignmentConfig {
  /** reflectors per client node; undefined: off here */
  perNode?: number;
  slack: number;
  zoneLabel: string;
  graceSeconds: number;
  leaseSeconds: number;
  writesPerSecond: number;
}

/** A variable, its flag, its default and what it is for: the configuration reference. */
/**
 * Prefixes per family a peer may send unless told otherwise: the memory guard, so that no single
 * peer can exhaust the heap (4 GiB here). A route costs the reflector about 0.5 KiB (1 KiB with
 * attributes of its own), so a peer at the limit takes 1 to 2 GiB. Twice a full Internet IPv4
 * table; Calico nodes announce a handful of blocks and service addresses.
 */
export const DEFAULT_MAX_PREFIXES = 2_000_000;

export const VARIABLES = [
  ["IP", "--ip", "", "IPv4 address: router ID and the address BGP listens and connects on"],
  ["IP6", "--ip6", "", "IPv6 address for IPv6 sessions"],
  ["NODENAME", "--nodename", "", "run as this Calico Node (node mode)"],
  [
    "CALICO_ROUTER_ID",
    "--router-id",
    "IP, or the Calico Node's IPv4 address",
    "BGP router ID (dotted quad), or hash for one made from NODENAME as calico/node does; needed without IPv4",
  ],
  ["CLUSTER_ID", "--cluster-id", "the router ID", "route reflector cluster ID in legacy mode (dotted quad)"],
  [
    "DATASTORE_TYPE",
    "--datastore-type",
    "etcdv3 when ETCD_ENDPOINTS is set, else file",
    "file, etcdv3 or kubernetes",
  ],
  [
    "DATASTORE_FILE",
    "--datastore-file",
    "the embedded default",
    "YAML file of Calico resources (file datastore)",
  ],
  ["ETCD_ENDPOINTS", "--etcd-endpoints", "http://127.0.0.1:2379", "comma-separated etcd URLs"],
  [
    "ETCD_DISCOVERY_SRV",
    "--etcd-discovery-srv",
    "",
    "a domain whose SRV records _etcd-client-ssl._tcp and _etcd-client._tcp name the etcd endpoints, instead of ETCD_ENDPOINTS",
  ],
  ["ETCD_CA_CERT_FILE", "--etcd-ca-cert-file", "", "CA certificate to verify etcd (PEM)"],
  ["ETCD_CERT_FILE", "--etcd-cert-file", "", "client certificate for etcd (PEM)"],
  ["ETCD_KEY_FILE", "--etcd-key-file", "", "client key for etcd (PEM)"],
  [
    "ETCD_USERNAME",
    "--etcd-username",
    "",
    "etcd user, where etcd has authentication on (with ETCD_PASSWORD)",
  ],
  ["ETCD_PASSWORD", "--etcd-password", "", "that user's password"],
  ["KUBECONFIG", "--kubeconfig", "in-cluster service account", "kubeconfig file (kubernetes datastore)"],
  [
    "K8S_API_ENDPOINT",
    "--k8s-api-endpoint",
    "",
    "the API server's URL, over the kubeconfig's (as calico/node)",
  ],
  ["K8S_CA_FILE", "--k8s-ca-file", "", "CA certificate to verify the API server (PEM)"],
  ["K8S_CERT_FILE", "--k8s-cert-file", "", "client certificate for the API server (PEM, with K8S_KEY_FILE)"],
  ["K8S_KEY_FILE", "--k8s-key-file", "", "client key for the API server (PEM)"],
  ["K8S_API_TOKEN", "--k8s-api-token", "", "bearer token for the API server"],
  [
    "K8S_INSECURE_SKIP_TLS_VERIFY",
    "--k8s-insecure-skip-tls-verify",
    "false",
    "do not verify the API server's certificate",
  ],
  [
    "NAMESPACE",
    "--namespace",
    "the pod's own namespace, else kube-system",
    "namespace of the Secrets that hold BGP passwords (calico/node's: kube-system, or calico-system with the operator)",
  ],
  [
    "CALICO_API_GROUP",
    "--calico-api-group",
    "discovered",
    "crd.projectcalico.org/v1 or projectcalico.org/v3 (kubernetes datastore)",
  ],
  [
    "MAX_PREFIXES",
    "--max-prefixes",
    String(DEFAULT_MAX_PREFIXES),
    "reset a peer's session when it sends more prefixes per family (RFC 4486); 0 for no limit; a BGPPeer's routereflector/max-prefixes annotation wins",
  ],
  [
    "ADD_PATHS",
    "--add-paths",
    "all",
    "ADD-PATH (RFC 7911) offered to every peer, send and receive, as calico/node's BIRD (add paths on): all paths, N for the best N per prefix, or off",
  ],
  [
    "ASSIGN_REFLECTORS",
    "--assign-reflectors",
    "off",
    "R: assign each client node R reflectors from the reflectors with this on (a lease each, one writer), as labels and BGPPeers calico/node follows; needs NODENAME and etcdv3 or kubernetes",
  ],
  [
    "ASSIGN_ZONE_LABEL",
    "--assign-zone-label",
    "topology.kubernetes.io/zone",
    "the Node label whose value is a reflector's zone: a node's reflectors are in different zones where they can be",
  ],
  [
    "ASSIGN_SLACK",
    "--assign-slack",
    "2",
    "how far a reflector's load may be from its even share (nodes x R / reflectors), either way, before nodes move",
  ],
  [
    "ASSIGN_GRACE_PERIOD",
    "--assign-grace-period",
    "60",
    "seconds a reflector whose lease is gone keeps its nodes (a restart moves nothing); also how long an instance with assignment off waits with no member left before removing the labels and BGPPeers",
  ],
  ["ASSIGN_LEASE_TTL", "--assign-lease-ttl", "15", "seconds a member's lease lasts without renewal"],
  ["ASSIGN_WRITE_RATE", "--assign-write-rate", "50", "the most datastore writes a second the writer makes"],
  ["LOG_LEVEL", "--log-level", "info", "trace, debug, info, warn, error, fatal or silent"],
  [
    "HTTP_LISTEN",
    "--http-listen",
    "127.0.0.1:9179",
    "host:port for /metrics, /livez, /readyz and status; off to disable",
  ],
] as const;

export type VariableName = (typeof VARIABLES)[number][0];

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = "ConfigError";
  }
}

/** The embedded default configuration: runs with no datastore, no root and no setup. */
export const EMBEDDED_DEFAULT = fileURLToPath(new URL("../../config/default.yaml", import.meta.url));

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** The flags of run and config check: one per variable, each taking a value. */
const FLAG_OPTIONS = Object.fromEntries(
  VARIABLES.map(([, flag]) => [flag.slice(2), { type: "string" as const }]),
);

/** Variables from the environment, overridden by flags (`--ip 1.2.3.4` or `--ip=1.2.3.4`). */
export function readVariables(env: NodeJS.ProcessEnv, argv: readonly string[]): Map<VariableName, string> {
  const values = new Map<VariableName, string>();
  for (const [name] of VARIABLES) {
    const v = env[name];
    if (v !== undefined && v !== "") values.set(name, v);
  }
  // Tokens, not node:util's strict mode, so that an error names the flag without reading its message.
  const { tokens } = parseArgs({ args: [...argv], options: FLAG_OPTIONS, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind === "positional") throw new ConfigError(t.value, "unknown option (see --help)");
    if (t.kind !== "option") continue;
    const def = VARIABLES.find(([, flag]) => flag === `--${t.name}`);
    if (!def || !t.rawName.startsWith("--")) throw new ConfigError(t.rawName, "unknown option (see --help)");
    // a value taken from the next argument that is itself a flag: this one had none
    if (t.value === undefined || (!t.inlineValue && t.value.startsWith("-")))
      throw new ConfigError(t.rawName, "needs a value");
    values.set(def[0], t.value);
  }
  return values;
}

/** A whole number from `min` for this variable, or its default. */
function whole(values: Map<VariableName, string>, name: VariableName, fallback: number, min: number): number {
  const text = values.get(name);
  if (text === undefined) return fallback;
  const n = parseWhole(text, min);
  if (n === undefined) throw new ConfigError(name, `not a whole number from ${min}: ${JSON.stringify(text)}`);
  return n;
}

function assignment(values: Map<VariableName, string>, config: Config): AssignmentConfig {
  const on = values.get("ASSIGN_REFLECTORS");
  const out: AssignmentConfig = {
    slack: whole(values, "ASSIGN_SLACK", 2, 0),
    zoneLabel: values.get("ASSIGN_ZONE_LABEL") ?? "topology.kubernetes.io/zone",
    graceSeconds: whole(values, "ASSIGN_GRACE_PERIOD", 60, 0),
    leaseSeconds: whole(values, "ASSIGN_LEASE_TTL", 15, 2),
    writesPerSecond: whole(values, "ASSIGN_WRITE_RATE", 50, 1),
  };
  if (on === undefined || on === "off") return out;
  out.perNode = whole(values, "ASSIGN_REFLECTORS", 2, 1);
  if (!values.has("NODENAME"))
    throw new ConfigError("ASSIGN_REFLECTORS", "needs NODENAME: the Calico Node this reflector is");
  if (config.datastoreType === "file")
    throw new ConfigError(
      "ASSIGN_REFLECTORS",
      "needs DATASTORE_TYPE etcdv3 or kubernetes (the leases live there)",
    );
  return out;
}

function address(values: Map<VariableName, string>, name: VariableName, family: 4 | 6): string | undefined {
  const v = values.get(name);
  if (v === undefined) return undefined;
  const ip = parseAddress(v);
  if (ip?.family !== family) throw new ConfigError(name, `not an IPv${family} address: ${JSON.stringify(v)}`);
  return ip.text;
}

/**
 * calico/node's router ID from a node name (confd's hashToIPv4): the first four octets of its
 * SHA-256, the first brought under 224 (no multicast or reserved router IDs).
 */
export function hashToIPv4(name: string): string {
  const h = createHash("sha256").update(name).digest();
  const first = h[0]! > 223 ? h[0]! - 32 : h[0]!;
  return [first, h[1], h[2], h[3]].join(".");
}

/** Go's strconv.ParseBool, as libcalico-go reads K8S_INSECURE_SKIP_TLS_VERIFY. */
function bool(values: Map<VariableName, string>, name: VariableName): boolean | undefined {
  const v = values.get(name);
  if (v === undefined) return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw new ConfigError(name, `not true or false: ${JSON.stringify(v)}`);
}

/** The file a variable names and its octets, read now: a message names the variable if it cannot be. */
function file(
  values: Map<VariableName, string>,
  name: VariableName,
): { path: string; data: Buffer } | undefined {
  const path = values.get(name);
  if (path === undefined) return undefined;
  try {
    return { path, data: readFileSync(path) };
  } catch (e) {
    throw new ConfigError(
      name,
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

function kubernetesOverrides(values: Map<VariableName, string>): KubernetesOverrides | undefined {
  const o: KubernetesOverrides = {};
  const server = values.get("K8S_API_ENDPOINT");
  if (server !== undefined) {
    if (!/^https?:\/\/[^/]+/.test(server))
      throw new ConfigError("K8S_API_ENDPOINT", `not an http(s) URL: ${JSON.stringify(server)}`);
    o.server = server;
  }
  const caFile = file(values, "K8S_CA_FILE")?.path;
  const certFile = file(values, "K8S_CERT_FILE")?.path;
  const keyFile = file(values, "K8S_KEY_FILE")?.path;
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError(
      certFile ? "K8S_KEY_FILE" : "K8S_CERT_FILE",
      "K8S_CERT_FILE and K8S_KEY_FILE go together",
    );
  const token = values.get("K8S_API_TOKEN");
  const insecure = bool(values, "K8S_INSECURE_SKIP_TLS_VERIFY");
  if (caFile) o.caFile = caFile;
  if (certFile && keyFile) {
    o.certFile = certFile;
    o.keyFile = keyFile;
  }
  if (token) o.token = token;
  if (insecure !== undefined) o.insecureSkipTlsVerify = insecure;
  return Object.keys(o).length ? o : undefined;
}

function addPaths(v: string): AddPaths {
  if (v === "all" || v === "off") return v;
  const n = parseCount(v);
  if (n === undefined || n < 1)
    throw new ConfigError("ADD_PATHS", `not all, off or a count of paths: ${JSON.stringify(v)}`);
  return n;
}

function endpoints(text: string): string[] {
  return text.split(",").map((raw) => {
    const e = raw.trim();
    let url: URL;
    try {
      url = new URL(e);
    } catch {
      throw new ConfigError("ETCD_ENDPOINTS", `not a URL: ${JSON.stringify(e)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new ConfigError("ETCD_ENDPOINTS", `${JSON.stringify(e)}: scheme must be http or https`);
    }
    return e;
  });
}

function httpListen(text: string): { host: string; port: number } | undefined {
  if (text === "off") return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !parseAddress(host) || !(port > 0 && port < 65536)) {
    throw new ConfigError("HTTP_LISTEN", `not host:port or off: ${JSON.stringify(text)}`);
  }
  return { host, port };
}

/** The configuration from the environment and flags; undefined when invalid, with the error printed. */
export function configOrError(
  argv: readonly string[],
  printError: (line: string) => void,
): Config | undefined {
  try {
    return loadConfig(process.env, argv);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    printError(`routereflector: ${e.message}`);
    return undefined;
  }
}

/** Where a pod's service account is mounted: its namespace is in the file `namespace`. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The namespace this pod runs in, when it runs in one. */
function podNamespace(env: NodeJS.ProcessEnv, serviceAccountDir: string): string | undefined {
  if (!env.KUBERNETES_SERVICE_HOST) return undefined;
  try {
    return readFileSync(`${serviceAccountDir}/namespace`, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function loadConfig(
  env: NodeJS.ProcessEnv,
  argv: readonly string[],
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): Config {
  const values = readVariables(env, argv);
  const discovery = values.get("ETCD_DISCOVERY_SRV");
  // libcalico-go refuses both ("multiple discovery or bootstrap options specified")
  if (discovery !== undefined && values.has("ETCD_ENDPOINTS"))
    throw new ConfigError("ETCD_DISCOVERY_SRV", "set either ETCD_ENDPOINTS or ETCD_DISCOVERY_SRV, not both");
  if (discovery !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\.?$/.test(discovery))
    throw new ConfigError("ETCD_DISCOVERY_SRV", `not a domain name: ${JSON.stringify(discovery)}`);
  const typeText =
    values.get("DATASTORE_TYPE") ??
    (values.has("ETCD_ENDPOINTS") || discovery !== undefined ? "etcdv3" : "file");
  if (typeText !== "file" && typeText !== "etcdv3" && typeText !== "kubernetes") {
    throw new ConfigError("DATASTORE_TYPE", `${JSON.stringify(typeText)} is not file, etcdv3 or kubernetes`);
  }
  const datastoreFile = values.get("DATASTORE_FILE");
  const config: Config = {
    datastoreType: typeText,
    datastoreFile: datastoreFile ?? EMBEDDED_DEFAULT,
    embeddedDefault: typeText === "file" && datastoreFile === undefined,
    etcdEndpoints: endpoints(values.get("ETCD_ENDPOINTS") ?? "http://127.0.0.1:2379"),
    ...(discovery !== undefined ? { etcdDiscoverySrv: discovery } : {}),
    etcdTls: {},
    // calico/node reads Secrets in its own namespace; a reflector deployed beside it runs there too
    namespace: values.get("NAMESPACE") ?? podNamespace(env, serviceAccountDir) ?? "kube-system",
    logLevel: values.get("LOG_LEVEL")?.toLowerCase() ?? "info",
    logLevelSet: values.has("LOG_LEVEL"),
    addPaths: addPaths(values.get("ADD_PATHS") ?? "all"),
    assignment: { slack: 2, zoneLabel: "", graceSeconds: 60, leaseSeconds: 15, writesPerSecond: 50 },
  };
  const ip = address(values, "IP", 4);
  const ip6 = address(values, "IP6", 6);
  const clusterId = address(values, "CLUSTER_ID", 4);
  const nodeName = values.get("NODENAME");
  const kubeconfig = values.get("KUBECONFIG");
  const routerId = values.get("CALICO_ROUTER_ID");
  if (routerId === "hash") {
    if (!nodeName)
      throw new ConfigError("CALICO_ROUTER_ID", "hash makes the router ID from NODENAME, which is not set");
    config.routerId = hashToIPv4(nodeName);
  } else if (routerId !== undefined) {
    config.routerId = address(values, "CALICO_ROUTER_ID", 4);
  }
  if (ip) config.ip = ip;
  if (ip6) config.ip6 = ip6;
  if (clusterId) config.clusterId = clusterId;
  if (nodeName) config.nodeName = nodeName;
  if (kubeconfig) config.kubeconfig = kubeconfig;
  const apiGroup = values.get("CALICO_API_GROUP");
  if (apiGroup !== undefined) {
    if (apiGroup !== "crd.projectcalico.org/v1" && apiGroup !== "projectcalico.org/v3") {
      throw new ConfigError(
        "CALICO_API_GROUP",
        `${JSON.stringify(apiGroup)} is not crd.projectcalico.org/v1 or projectcalico.org/v3`,
      );
    }
    config.apiGroup = apiGroup;
  }
  if (!LOG_LEVELS.includes(config.logLevel)) {
    throw new ConfigError(
      "LOG_LEVEL",
      `${JSON.stringify(config.logLevel)} is not one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  const max = values.get("MAX_PREFIXES") ?? String(DEFAULT_MAX_PREFIXES);
  if (max !== "0") {
    const n = parseCount(max);
    if (n === undefined)
      throw new ConfigError("MAX_PREFIXES", `not a count (0 for no limit): ${JSON.stringify(max)}`);
    config.maxPrefixes = n;
  }
  config.assignment = assignment(values, config);
  const http = httpListen(values.get("HTTP_LISTEN") ?? "127.0.0.1:9179");
  if (http) config.httpListen = http;
  if (config.datastoreType === "etcdv3") {
    const tls: EtcdAccess = {};
    const ca = file(values, "ETCD_CA_CERT_FILE")?.data;
    const cert = file(values, "ETCD_CERT_FILE")?.data;
    const key = file(values, "ETCD_KEY_FILE")?.data;
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    const username = values.get("ETCD_USERNAME");
    const password = values.get("ETCD_PASSWORD");
    if ((username === undefined) !== (password === undefined))
      throw new ConfigError(
        username === undefined ? "ETCD_USERNAME" : "ETCD_PASSWORD",
        "ETCD_USERNAME and ETCD_PASSWORD go together",
      );
    if (username !== undefined) {
      tls.username = username;
      tls.password = password as string;
    }
    if ((cert === undefined) !== (key === undefined)) {
      throw new ConfigError(
        cert ? "ETCD_KEY_FILE" : "ETCD_CERT_FILE",
        "ETCD_CERT_FILE and ETCD_KEY_FILE go together",
      );
    }
    config.etcdTls = tls;
  }
  if (config.datastoreType === "kubernetes") file(values, "KUBECONFIG");
  const k8s = kubernetesOverrides(values);
  if (k8s) config.kubernetes = k8s;
  if (
    config.datastoreType === "kubernetes" &&
    !config.kubeconfig &&
    !k8s?.server &&
    !env.KUBERNETES_SERVICE_HOST
  ) {
    throw new ConfigError(
      "KUBECONFIG",
      "required outside a Kubernetes pod (no in-cluster service account), unless K8S_API_ENDPOINT is set",
    );
  }
  // Legacy mode needs our address; node mode can take it from the Node.
  if (!config.ip && !config.ip6 && !config.nodeName && !config.embeddedDefault) {
    throw new ConfigError("IP", "required (or NODENAME, to take the address from that Calico Node)");
  }
  if (config.embeddedDefault && !config.ip) config.ip = "127.0.0.1";
  return config;
}
