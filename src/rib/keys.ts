// Map keys for prefixes. An IPv4 prefix without a Path Identifier, nearly every route a Calico
// cluster carries, is keyed by a number (address × 64 + length, below 2^38): no key string is
// built or kept per route. Anything else is keyed by its text.
import { type Family, ipv4Number } from "../bgp/index.js";

export type PrefixKey = number | string;

/** The key of a prefix (with its Path Identifier, when it has one). */
export function prefixKey(family: Family, prefix: string, pathId = 0): PrefixKey {
  if (family !== "ipv4" || pathId !== 0) return `${family} ${prefix} ${pathId}`;
  const slash = prefix.indexOf("/");
  let bits = 0;
  for (let i = slash + 1; i < prefix.length; i++) bits = bits * 10 + prefix.charCodeAt(i) - 48;
  return ipv4Number(prefix, slash) * 64 + bits;
}
