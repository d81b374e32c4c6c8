// AS_PATH (type 2, well-known mandatory), RFC 4271 §4.3 and §5.1.2; AS4_PATH (type 17,
// optional transitive), RFC 6793 §3.
//
//   each segment: +-----------+-----------+--------------------------------+
//                 | type (1)  | count (1) | count x ASN (2 or 4 octets)    |
//                 +-----------+-----------+--------------------------------+
import { AttrType } from "../constants.js";
import { EncodeError } from "../errors.js";
import { type AsSegment, type AsSegmentType, AttrFault, type AttributeCodec } from "./types.js";

const SEGMENT_TYPES: Readonly<Record<number, AsSegmentType>> = {
  1: "AS_SET",
  2: "AS_SEQUENCE",
  3: "AS_CONFED_SEQUENCE",
  4: "AS_CONFED_SET",
};
const SEGMENT_CODES: Readonly<Record<AsSegmentType, number>> = {
  AS_SET: 1,
  AS_SEQUENCE: 2,
  AS_CONFED_SEQUENCE: 3,
  AS_CONFED_SET: 4,
};

/** RFC 7606 §7.2: unknown segment type, zero-length segment, overrun or a lone trailing octet. */
export function decodeAsPath(
  buf: Buffer,
  start: number,
  len: number,
  asnSize: 2 | 4,
  name: string,
): AsSegment[] {
  const segments: AsSegment[] = [];
  const end = start + len;
  let off = start;
  while (off < end) {
    if (off + 2 > end) throw new AttrFault(11, `${name}: one octet left after the last segment`);
    const type = SEGMENT_TYPES[buf[off]!];
    const count = buf[off + 1]!;
    if (!type) throw new AttrFault(11, `${name}: undefined segment type ${buf[off]}`);
    if (count === 0) throw new AttrFault(11, `${name}: segment of length zero`);
    off += 2;
    if (off + count * asnSize > end) {
      throw new AttrFault(11, `${name}: segment of ${count} ASNs overruns the attribute`);
    }
    const asns = new Array<number>(count);
    for (let i = 0; i < count; i++, off += asnSize) {
      asns[i] = asnSize === 4 ? buf.readUInt32BE(off) : buf.readUInt16BE(off);
    }
    segments.push({ type, asns });
  }
  return segments;
}

/** Segments longer than 255 ASNs are split, as RFC 4271 §5.1.2 requires. */
export function encodeAsPath(segments: readonly AsSegment[], asnSize: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const seg of segments) {
    const code = SEGMENT_CODES[seg.type];
    if (!code) throw new EncodeError(`bad AS_PATH segment type ${JSON.stringify(seg.type)}`);
    for (let i = 0; i < seg.asns.length || i === 0; i += 255) {
      const chunk = seg.asns.slice(i, i + 255);
      if (chunk.length === 0) throw new EncodeError("empty AS_PATH segment");
      const b = Buffer.alloc(2 + chunk.length * asnSize);
      b[0] = code;
      b[1] = chunk.length;
      chunk.forEach((asn, j) => {
        if (!Number.isInteger(asn) || asn < 0 || asn >= 2 ** (8 * asnSize)) {
          throw new EncodeError(`ASN ${asn} does not fit in ${asnSize} octets`);
        }
        if (asnSize === 4) b.writeUInt32BE(asn, 2 + j * 4);
        else b.writeUInt16BE(asn, 2 + j * 2);
      });
      parts.push(b);
    }
  }
  return Buffer.concat(parts);
}

export const AS_PATH: AttributeCodec<"asPath"> = {
  code: AttrType.AS_PATH,
  key: "asPath",
  name: "AS_PATH",
  flags: 0x40,
  malformed: "treat-as-withdraw", // RFC 7606 §7.2
  decode: (buf, off, len, ctx) => decodeAsPath(buf, off, len, ctx.asn4 ? 4 : 2, "AS_PATH"),
  encode: (segments, ctx) => encodeAsPath(segments, ctx.asn4 ? 4 : 2),
};

export const AS4_PATH: AttributeCodec<"as4Path"> = {
  code: AttrType.AS4_PATH,
  key: "as4Path",
  name: "AS4_PATH",
  flags: 0xc0,
  malformed: "attribute-discard", // RFC 6793 §6
  oldSpeakerOnly: true,
  decode(buf, off, len) {
    const segments = decodeAsPath(buf, off, len, 4, "AS4_PATH");
    // RFC 6793 §3: AS4_PATH carries no confederation segments.
    if (segments.some((s) => s.type === "AS_CONFED_SEQUENCE" || s.type === "AS_CONFED_SET")) {
      throw new AttrFault(9, "AS4_PATH carries a confederation segment");
    }
    return segments;
  },
  encode: (segments) => encodeAsPath(segments, 4),
};
