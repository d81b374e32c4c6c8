// The reflector: the routing engine (peers' routes, the Loc-RIB, update groups), the wiring that
// runs it over sessions, and the reconciler that turns peerings into peers. What the daemon and
// the control endpoints use.
export { clientOf, PEER_DEFAULTS } from "./defaults.js";
export {
  Engine,
  type EngineAction,
  type EngineConfig,
  type EngineEvent,
  type EngineInput,
} from "./engine.js";
export { type Group, HIGH_WATER, type Transport } from "./groups.js";
export { Neighbor, type NeighborConfig } from "./neighbor.js";
export { type KeyedListener, neighborConfig, type ReconcileResult, Reconciler } from "./reconciler.js";
export { Peer, Reflector, type ReflectorConfig, type ReflectorObserver } from "./reflector.js";
export { DEFAULT_LOCAL_PREF, type Role } from "./rules.js";
