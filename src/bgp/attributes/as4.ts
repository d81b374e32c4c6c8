// RFC 6793 §4.2.3: a NEW speaker rebuilding the 4-octet AS path and aggregator from what an
// OLD (2-octet) speaker sent in AS_PATH/AGGREGATOR and AS4_PATH/AS4_AGGREGATOR.
import { AS_TRANS } from "../constants.js";
import type { Aggregator, AsSegment, PathAttributes } from "./types.js";

/** Path length as the decision process counts it: AS_SET is 1, confederation segments 0. */
export function asPathLength(path: readonly AsSegment[]): number {
  let n = 0;
  for (const s of path) {
    if (s.type === "AS_SEQUENCE") n += s.asns.length;
    else if (s.type === "AS_SET") n += 1;
  }
  return n;
}

export interface Reconciled {
  asPath: AsSegment[] | undefined;
  aggregator: Aggregator | undefined;
}

export function reconcileAs4(attrs: PathAttributes): Reconciled {
  const { asPath, aggregator, as4Path, as4Aggregator } = attrs;
  // An AGGREGATOR that is not AS_TRANS means both AS4 attributes are to be ignored.
  if (aggregator && aggregator.asn !== AS_TRANS) return { asPath, aggregator };
  const agg = aggregator && as4Aggregator ? as4Aggregator : aggregator;
  if (!asPath || !as4Path) return { asPath, aggregator: agg };
  const leading = asPathLength(asPath) - asPathLength(as4Path);
  // An AS4_PATH longer than AS_PATH is ignored.
  if (leading < 0) return { asPath, aggregator: agg };
  return { asPath: [...leadingHops(asPath, leading), ...as4Path], aggregator: agg };
}

/** The first `count` hops of a path, confederation segments before them kept whole. */
function leadingHops(path: readonly AsSegment[], count: number): AsSegment[] {
  const out: AsSegment[] = [];
  let need = count;
  for (const s of path) {
    if (need === 0) break;
    if (s.type === "AS_CONFED_SEQUENCE" || s.type === "AS_CONFED_SET") {
      out.push(s);
    } else if (s.type === "AS_SET") {
      out.push(s);
      need -= 1;
    } else {
      const take = Math.min(need, s.asns.length);
      out.push({ type: s.type, asns: s.asns.slice(0, take) });
      need -= take;
    }
  }
  return out;
}
