// The codec context: what the OPEN exchange negotiated, fixed for the life of a session.
// One context is used per direction (decoding what the peer sends, encoding what we send),
// since ADD-PATH is negotiated per direction.

export interface CodecContext {
  /** RFC 6793: 4-octet AS numbers in AS_PATH and AGGREGATOR. */
  readonly asn4: boolean;
  /** RFC 7911: NLRI carry a Path Identifier, per family, in this direction. */
  readonly addPath: { readonly ipv4: boolean; readonly ipv6: boolean };
  /** RFC 8654: messages up to 65535 octets. */
  readonly extendedMessage: boolean;
  /** The peer is external (RFC 7606 §7.5, §7.9, §7.10 discard rules; first-AS check). */
  readonly ebgp: boolean;
  /** The peer's AS, for the RFC 4271 §6.3 first-AS check on eBGP sessions. */
  readonly peerAs?: number;
}

export const DEFAULT_CONTEXT: CodecContext = Object.freeze({
  asn4: true,
  addPath: Object.freeze({ ipv4: false, ipv6: false }),
  extendedMessage: false,
  ebgp: false,
});

export function makeContext(partial: Partial<CodecContext> = {}): CodecContext {
  return Object.freeze({ ...DEFAULT_CONTEXT, ...partial });
}
