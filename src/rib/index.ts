export { AdjRibIn, type RibSink, type RouteView } from "./adj-rib-in.js";
export { type AttrSet, AttrTable } from "./attr-table.js";
export { addressKey, type Candidate, compare, explain, type Step, selectBest } from "./decision.js";
export { candidateOf, type Dest, LocRib, type Path, type PeerRef } from "./loc-rib.js";
