export { asPathLength, type Reconciled, reconcileAs4 } from "./as4.js";
export { type AttributesDecode, attributeHeader, decodeAttributes, encodeAttributes } from "./block.js";
export { addPathFor, isUnicast, MP_REACH_NLRI } from "./mp.js";
export { attributeName, BY_CODE, BY_KEY } from "./table.js";
export type {
  Aggregator,
  AsSegment,
  AsSegmentType,
  KnownAttrKey,
  MpReach,
  MpUnreach,
  Origin,
  PathAttributes,
  UnknownAttribute,
} from "./types.js";
