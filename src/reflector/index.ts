// The reflector: peers, the Loc-RIB and update groups, and the reconciler that turns peerings
// into peers. What the daemon and the control endpoints use.
export { PEER_DEFAULTS } from "./defaults.js";
export { type Group, HIGH_WATER } from "./groups.js";
export { Peer, type PeerEvents, type PeerOptions } from "./peer.js";
export { type KeyedListener, type ReconcileResult, Reconciler, settingsFor } from "./reconciler.js";
export {
  type PeerSettings,
  Reflector,
  type ReflectorConfig,
  type ReflectorObserver,
} from "./reflector.js";
export { DEFAULT_LOCAL_PREF, type Role } from "./rules.js";
