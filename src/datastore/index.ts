// Calico's datastore: resources parsed from etcd, Kubernetes or a file into the store, and the
// peerings calico/node would compute from them. EtcdSource and KubernetesSource are imported by
// path where they are used, so their clients load only when chosen.
export type { EtcdAccess } from "./etcd.js";
export { FileError, FileSource, parseFile } from "./file.js";
export type { KubernetesOptions, KubernetesOverrides } from "./kubernetes.js";
export {
  type AddPaths,
  BGP_PORT,
  computePeerings,
  computePeeringsOfNodes,
  DEFAULT_AS,
  type Identity,
  type PeerFilters,
  type Peerings,
  type PeerSpec,
  type PeerType,
  type Snapshot,
} from "./peerings.js";
export {
  isPrefixOrAddress,
  MAX_PREFIXES_ANNOTATION,
  parseAddress,
  parseCidr,
  parseCount,
  parseWhole,
  ResourceError,
} from "./resources.js";
export { parseSelector, type Selector, SelectorError } from "./selector.js";
export { resourceKey, Store } from "./store.js";
