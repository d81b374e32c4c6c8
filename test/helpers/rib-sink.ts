// A RibSink that records what it is given, for tests of the Adj-RIB-In and the Neighbor.
import type { PrefixKey } from "../../src/bgp/index.js";
import type { AttrSet, RibSink } from "../../src/rib/index.js";

export interface Recorded extends RibSink {
  announced: [PrefixKey, AttrSet][];
  withdrawn: PrefixKey[];
  /** forgets what it recorded; returns it as it was */
  take(): { announced: [PrefixKey, AttrSet][]; withdrawn: PrefixKey[] };
}

export function recorder(): Recorded {
  const r: Recorded = {
    announced: [],
    withdrawn: [],
    announce: (key, attrs) => void r.announced.push([key, attrs]),
    withdraw: (key) => void r.withdrawn.push(key),
    take: () => {
      const out = { announced: r.announced, withdrawn: r.withdrawn };
      r.announced = [];
      r.withdrawn = [];
      return out;
    },
  };
  return r;
}
