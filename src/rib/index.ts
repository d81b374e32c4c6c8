export { AdjRibIn, type RibChange, type Route, type Withdrawal } from "./adj-rib-in.js";
export { type AttrSet, AttrTable, type Outbound6 } from "./attr-table.js";
export { addressKey, type Candidate, compare, explain, type Step, selectBest } from "./decision.js";
export { type PrefixKey, prefixKey } from "./keys.js";
export { candidateOf, type Dest, LocRib, type Path, type PeerRef } from "./loc-rib.js";
