// The one catalog of log events. A log line is `{event, ...fields}` with the event's fixed
// message: never text with values interpolated into it, so lines can be selected by `event` (or
// the message) and their values read from the fields. Each event names its level and the fields
// it carries; logEvent() checks both at compile time.
import type { Logger } from "pino";

type Level = "debug" | "info" | "warn" | "error" | "fatal";

interface Spec<F> {
  level: Level;
  msg: string;
  /** the fields' type, for logEvent (never set) */
  fields?: F;
}

const spec = <F extends object = Record<never, never>>(level: Level, msg: string): Spec<F> => ({
  level,
  msg,
});

type Err = { err: string };
/** where an etcd watch stands: its revision, and the cluster's ID and Raft term */
type EtcdPosition = { revision: number; id?: string; term?: number };

export const EVENTS = {
  // the daemon
  started: spec<{
    mode: string;
    node?: string;
    routerId: string;
    as: number;
    clusterId: string;
    listen: string[];
    peers: number;
    expecting: string[];
  }>("info", "BGP listening"),
  httpListening: spec<{ http: string }>("info", "HTTP endpoint: /metrics /livez /readyz /status /routes"),
  shuttingDownRetained: spec<{ signal: string }>(
    "info",
    "shutting down: graceful-restart clients keep our routes until we are back",
  ),
  shuttingDown: spec<{ signal: string }>("info", "shutting down for good: clients withdraw our routes"),
  reloadRequested: spec("info", "reload requested"),
  fatal: spec<Err>("fatal", "stopping"),
  peeringsFailed: spec<Err>("error", "peerings not computed; sessions stay as they are"),
  logLevelFromConfig: spec<{ level: string; logSeverityScreen?: string }>(
    "info",
    "log level from BGPConfiguration",
  ),
  peeringWarning: spec<{ warning: string }>("warn", "peering not as configured"),
  noRouterId: spec<{ node?: string }>(
    "error",
    "no router ID: set IP or CALICO_ROUTER_ID, or give the Calico Node an IPv4 address; no sessions until then",
  ),
  identityChanged: spec(
    "info",
    "router ID, cluster ID, AS or listen address changed: restarting every session",
  ),
  peerAdded: spec<{ peer: string; name: string; type: string; from: string }>("info", "peer added"),
  peerChanged: spec<{ peer: string; name: string; from: string }>("info", "peer changed: session reset"),
  peerRefiltered: spec<{ peer: string; name: string; filters: string[] }>(
    "info",
    "peer's BGPFilter rules changed: routes imported again and its export updated, session kept",
  ),
  peerRemoved: spec<{ peer: string; name: string }>("info", "peer removed"),
  // sessions and routes
  sessionState: spec<{ peer: string; from: string; to: string; reason?: string }>("debug", "session state"),
  deferralOver: spec<{ timedOut: false }>(
    "info",
    "selection deferral over: every peer's routes are in; tables sent",
  ),
  deferralTimedOut: spec<{ timedOut: true; waitingFor?: string[] }>(
    "warn",
    "selection deferral timed out: tables sent without some peers' End-of-RIB",
  ),
  routesLeftOut: spec<{ peers: string[]; prefixes: string[]; count: number }>(
    "warn",
    "routes left out: too large for one UPDATE to these peers",
  ),
  notificationSent: spec<{ peer: string; error: string; message?: string }>("warn", "NOTIFICATION sent"),
  notificationReceived: spec<{ peer: string; error: string; message?: string }>(
    "warn",
    "NOTIFICATION received",
  ),
  connectionRefused: spec<{ peer: string; moreSinceLastLine?: number }>(
    "warn",
    "connection from an unconfigured address closed",
  ),
  // the datastores
  invalidObject: spec<{ key: string; err: string }>("error", "invalid object skipped"),
  fileUnreadable: spec<{ key: string; err: string }>(
    "error",
    "cannot read the datastore file; keeping the last good state",
  ),
  fileNotApplied: spec<{ key: string; err: string }>(
    "error",
    "datastore file not applied; keeping the last good state",
  ),
  fileLoaded: spec<{ key: string; objects: number }>("info", "datastore file loaded"),
  etcdRelist: spec<{ reason: string }>("info", "listing etcd again"),
  etcdReachable: spec<{ endpoints: string[] }>("info", "etcd reachable again"),
  etcdUnreachable: spec<{ endpoints: string[]; err: string }>(
    "error",
    "etcd unreachable; sessions and routes stay as they are, retrying",
  ),
  etcdListed: spec<{ revision: number; objects: number }>("info", "etcd listed"),
  etcdWatchLost: spec<Err>("warn", "etcd watch disconnected; sessions and routes stay as they are"),
  etcdWatchResumed: spec("info", "etcd watch resumed"),
  etcdReplaced: spec<{ was: EtcdPosition; now: EtcdPosition }>(
    "warn",
    "etcd revision went backwards or the cluster changed: the data was replaced",
  ),
  objectPut: spec<{ key: string; revision: number }>("info", "datastore object put"),
  objectDeleted: spec<{ key: string; revision: number }>("info", "datastore object deleted"),
  kubernetesDatastore: spec<{ apiGroup: string; namespace: string }>("info", "Kubernetes datastore"),
  kubernetesListed: spec<{ collection: string; resourceVersion: string; objects: number }>("info", "listed"),
  kubernetesWatchError: spec<{ collection: string; code?: number }>("info", "watch error event"),
  objectChanged: spec<{ key: string; type: string; resourceVersion?: string }>(
    "info",
    "datastore object changed",
  ),
  kubernetesUnreachable: spec<{ collection: string; err: string; status?: number; retryIn: number }>(
    "error",
    "Kubernetes API unreachable or refused; sessions and routes stay as they are",
  ),
  discoveryFailed: spec<Err>("warn", "API discovery failed; using crd.projectcalico.org/v1"),
  kubernetesNotServed: spec<{ collection: string; status: number; retryIn: number }>(
    "info",
    "the API server does not serve this kind to us (404: its CRD is not installed; 403: no Role for it): there are none",
  ),
  // the reflector assignment (ASSIGN_REFLECTORS)
  assignmentLeaseLost: spec<Err>(
    "warn",
    "assignment lease lost (the datastore was away longer than its TTL): joining again",
  ),
  assignmentLeaseFailed: spec<Err>("warn", "could not take the assignment lease: trying again"),
  assignmentWriter: spec<{ elected: boolean; err?: string }>("info", "assignment writer changed"),
  assignmentPlan: spec<{
    reflectors: number;
    nodes: number;
    moved: number;
    slots: number;
  }>("info", "assignment plan changed"),
  assignmentWrites: spec<{ done: number; conflicts: number; failed: number; left: number; heldBack: number }>(
    "info",
    "assignment written",
  ),
  assignmentWriteFailed: spec<{ write: string; err: string }>(
    "warn",
    "an assignment write failed: tried again later",
  ),
  assignmentCleanup: spec<{ labels: number; peers: number }>(
    "info",
    "assignment is off and no member is left: removing the labels and BGPPeers it wrote",
  ),
} as const;

export type EventName = keyof typeof EVENTS;
type FieldsOf<E extends EventName> = NonNullable<(typeof EVENTS)[E]["fields"]>;

/** Logs one event of the catalog, at its level unless `level` says otherwise (a state change that matters more). */
export function logEvent<E extends EventName>(
  log: Logger,
  event: E,
  fields: FieldsOf<E>,
  level?: Level,
): void {
  const s = EVENTS[event];
  const line: Record<string, unknown> = { event, ...fields };
  // a field the logger already carries (a child's bindings) would be written twice
  const bound = log.bindings();
  for (const k of Object.keys(line)) if (k in bound && bound[k] === line[k]) delete line[k];
  log[level ?? s.level](line, s.msg);
}
