// The attribute table (after BIRD's bgp_attr_table[]): one entry per type code.
import { AGGREGATOR, AS4_AGGREGATOR } from "./aggregator.js";
import { AS_PATH, AS4_PATH } from "./as-path.js";
import {
  CLUSTER_LIST,
  COMMUNITIES,
  EXTENDED_COMMUNITIES,
  IPV6_EXTENDED_COMMUNITIES,
  LARGE_COMMUNITY,
} from "./lists.js";
import { MP_REACH_NLRI, MP_UNREACH_NLRI } from "./mp.js";
import { ORIGIN } from "./origin.js";
import { ATOMIC_AGGREGATE, LOCAL_PREF, MULTI_EXIT_DISC, NEXT_HOP, ORIGINATOR_ID } from "./scalars.js";
import type { AttributeCodec, KnownAttrKey } from "./types.js";

type AnyCodec = { [K in KnownAttrKey]: AttributeCodec<K> }[KnownAttrKey];

const ALL: readonly AnyCodec[] = [
  ORIGIN,
  AS_PATH,
  NEXT_HOP,
  MULTI_EXIT_DISC,
  LOCAL_PREF,
  ATOMIC_AGGREGATE,
  AGGREGATOR,
  COMMUNITIES,
  ORIGINATOR_ID,
  CLUSTER_LIST,
  MP_REACH_NLRI,
  MP_UNREACH_NLRI,
  EXTENDED_COMMUNITIES,
  AS4_PATH,
  AS4_AGGREGATOR,
  IPV6_EXTENDED_COMMUNITIES,
  LARGE_COMMUNITY,
];

/** The codec of each known attribute, indexed by type code (an array: this is the hot path). */
export const BY_CODE: ReadonlyArray<AttributeCodec<KnownAttrKey> | undefined> = (() => {
  const table = new Array<AttributeCodec<KnownAttrKey> | undefined>(256).fill(undefined);
  for (const c of ALL) table[c.code] = c as unknown as AttributeCodec<KnownAttrKey>;
  return table;
})();

/** The codec of each known attribute, looked up by its PathAttributes key. */
export const BY_KEY: ReadonlyMap<string, AttributeCodec<KnownAttrKey>> = new Map(
  ALL.map((c) => [c.key, c as unknown as AttributeCodec<KnownAttrKey>]),
);

export function attributeName(code: number): string {
  return BY_CODE[code]?.name ?? `ATTR_${code}`;
}
