// The address families a reflector carries, unicast only, and their numbers on the wire
// (RFC 4760 §5 with IANA's AFI 1 and 2, SAFI 1): the one place they are mapped.
export type Family = "ipv4" | "ipv6";

export const AFI: Readonly<Record<Family, number>> = { ipv4: 1, ipv6: 2 };

/** SAFI 1: unicast */
export const UNICAST = 1;

/** The family of an AFI/SAFI pair, or undefined for one we do not carry. */
export function familyOf(afi: number, safi: number): Family | undefined {
  if (safi !== UNICAST) return undefined;
  return afi === 1 ? "ipv4" : afi === 2 ? "ipv6" : undefined;
}
