// The control endpoints: HTTP (/status, /routes, /metrics, /healthz, /readyz) over the daemon.
export { MAX_CONNECTIONS, MAX_ROUTE_STREAMS, startHttp } from "./http.js";
export { createMetrics } from "./metrics.js";
export {
  type PeerDetail,
  type PeerStatus,
  type RouteEntry,
  type RoutePath,
  routes,
  type Status,
  status,
} from "./snapshot.js";
