// The Path Attributes field of an UPDATE: decoding with RFC 7606 error handling, and encoding.
//
//   each attribute: +--------+--------+--------------------+----------------+
//                   | flags  | type   | length (1, or 2 if | value          |
//                   | (1)    | (1)    | Extended Length)   |                |
//                   +--------+--------+--------------------+----------------+
import { AS_TRANS, AttrFlag, AttrType } from "../constants.js";
import type { CodecContext } from "../context.js";
import { BgpError, EncodeError, type Rfc7606Action, strongerAction } from "../errors.js";
import { attributeName, BY_CODE, BY_KEY } from "./table.js";
import { AttrFault, type KnownAttrKey, type PathAttributes } from "./types.js";

interface Problem {
  action: Rfc7606Action;
  subcode: number;
  reason: string;
  data?: Buffer;
  discarded?: string;
  afi?: number;
  safi?: number;
}

export interface AttributesDecode {
  attrs: PathAttributes;
  /** the RFC 7606 outcome, when anything was wrong */
  error?: BgpError;
}

const OPTIONAL_TRANSITIVE = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;

/**
 * Decodes a Path Attributes field. `nlriFieldLength` is the length of the UPDATE's own NLRI
 * field: NEXT_HOP is mandatory only when it is non-zero (RFC 4760 §3).
 */
export function decodeAttributes(
  block: Buffer,
  ctx: CodecContext,
  nlriFieldLength: number,
): AttributesDecode {
  const attrs: PathAttributes = {};
  const problems: Problem[] = [];
  const seen = new Set<number>();
  let framingError = false;
  let off = 0;
  while (off < block.length) {
    const flags = block[off]!;
    const code = block[off + 1];
    const header = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    // RFC 7606 §4: too few octets for an attribute header, or a length that overruns the field.
    if (code === undefined || off + header > block.length) {
      framingError = true;
      break;
    }
    const length = header === 4 ? block.readUInt16BE(off + 2) : block[off + 2]!;
    if (off + header + length > block.length) {
      framingError = true;
      break;
    }
    const raw = block.subarray(off, off + header + length);
    const value = raw.subarray(header);
    off += header + length;
    decodeOne(attrs, problems, seen, ctx, flags, code, value, raw);
  }
  if (framingError) {
    problems.push({
      action: "treat-as-withdraw",
      subcode: 1,
      reason: "attribute framing error (RFC 7606 §4)",
    });
  }
  // A malformed MP_REACH_NLRI still announces routes: its errors are handled per family.
  const reachable = nlriFieldLength > 0 || seen.has(AttrType.MP_REACH_NLRI);
  if (reachable) checkMandatory(problems, seen, nlriFieldLength);
  checkFirstAs(attrs, problems, ctx);
  if (problems.length === 0) return { attrs };
  return { attrs, error: combine(problems, reachable, seen) };
}

function decodeOne(
  attrs: PathAttributes,
  problems: Problem[],
  seen: Set<number>,
  ctx: CodecContext,
  flags: number,
  code: number,
  value: Buffer,
  raw: Buffer,
): void {
  const codec = BY_CODE.get(code);
  const name = attributeName(code);
  if (!codec) {
    // RFC 4271 §6.3: an unrecognized well-known attribute.
    if (!(flags & AttrFlag.OPTIONAL)) {
      problems.push({
        action: "session-reset",
        subcode: 2,
        reason: `unrecognized well-known ${name}`,
        data: raw,
      });
      return;
    }
    if (seen.has(code)) {
      problems.push({
        action: "attribute-discard",
        subcode: 1,
        reason: `duplicate ${name}`,
        discarded: name,
      });
      return;
    }
    seen.add(code);
    attrs.unknown ??= [];
    attrs.unknown.push({ code, flags, valueHex: value.toString("hex").toUpperCase() });
    return;
  }
  if (seen.has(code)) {
    // RFC 7606 §3(g): a repeated MP_REACH/MP_UNREACH resets the session; other copies are discarded.
    if (code === AttrType.MP_REACH_NLRI || code === AttrType.MP_UNREACH_NLRI) {
      problems.push({ action: "session-reset", subcode: 1, reason: `duplicate ${name}` });
    } else {
      problems.push({
        action: "attribute-discard",
        subcode: 1,
        reason: `duplicate ${name}`,
        discarded: name,
      });
    }
    return;
  }
  seen.add(code);
  const family = familyOf(code, value);
  // RFC 7606 §3(c): Optional/Transitive bits in conflict make the attribute malformed.
  if ((flags & OPTIONAL_TRANSITIVE) !== codec.flags) {
    const reason = `${name} flags 0x${flags.toString(16)} conflict with 0x${codec.flags.toString(16)}`;
    problems.push(malformed(codec.malformed, 4, reason, raw, name, family));
    return;
  }
  if ((codec.ibgpOnly && ctx.ebgp) || (codec.oldSpeakerOnly && ctx.asn4)) {
    const why = codec.ibgpOnly ? "from an external peer" : "from a 4-octet AS speaker";
    problems.push({
      action: "attribute-discard",
      subcode: 0,
      reason: `${name} ${why} disregarded`,
      discarded: name,
    });
    return;
  }
  try {
    (attrs as Record<string, unknown>)[codec.key] = codec.decode(value, ctx);
  } catch (e) {
    if (!(e instanceof AttrFault)) throw e;
    problems.push(malformed(e.action ?? codec.malformed, e.subcode, e.reason, raw, name, family));
    return;
  }
  const usual = codec.flags | (value.length > 255 ? AttrFlag.EXTENDED_LENGTH : 0);
  if (flags !== usual) {
    attrs.flags ??= {};
    attrs.flags[codec.key] = flags;
  }
}

function familyOf(code: number, value: Buffer): { afi: number; safi: number } | undefined {
  if ((code !== AttrType.MP_REACH_NLRI && code !== AttrType.MP_UNREACH_NLRI) || value.length < 3)
    return undefined;
  return { afi: value.readUInt16BE(0), safi: value[2]! };
}

function malformed(
  action: Rfc7606Action,
  subcode: number,
  reason: string,
  data: Buffer,
  name: string,
  family: { afi: number; safi: number } | undefined,
): Problem {
  // Without the AFI/SAFI there is no family to disable: the session goes (RFC 7606 §7.11).
  if (action === "afi-safi-disable" && !family) action = "session-reset";
  const p: Problem = { action, subcode, reason, data, ...family };
  if (action === "attribute-discard") p.discarded = name;
  return p;
}

/** RFC 7606 §3(d): a missing well-known mandatory attribute means treat-as-withdraw. */
function checkMandatory(problems: Problem[], seen: Set<number>, nlriFieldLength: number): void {
  const required: number[] = [AttrType.ORIGIN, AttrType.AS_PATH];
  if (nlriFieldLength > 0) required.push(AttrType.NEXT_HOP);
  for (const code of required) {
    if (!seen.has(code)) {
      problems.push({
        action: "treat-as-withdraw",
        subcode: 3,
        reason: `missing well-known attribute ${attributeName(code)}`,
        data: Buffer.from([code]),
      });
    }
  }
}

/** RFC 4271 §6.3, RFC 7606 §7.2: on eBGP the AS_PATH must start with the peer's AS. */
function checkFirstAs(attrs: PathAttributes, problems: Problem[], ctx: CodecContext): void {
  if (!ctx.ebgp || ctx.peerAs === undefined || !attrs.asPath) return;
  const first = attrs.asPath[0];
  const expected = ctx.asn4 || ctx.peerAs <= 0xffff ? ctx.peerAs : AS_TRANS;
  if (first?.type !== "AS_SEQUENCE" || first.asns[0] !== expected) {
    problems.push({
      action: "treat-as-withdraw",
      subcode: 11,
      reason: `AS_PATH does not start with peer AS ${ctx.peerAs}`,
    });
  }
}

function combine(problems: Problem[], reachable: boolean, seen: Set<number>): BgpError {
  let action: Rfc7606Action = "attribute-discard";
  for (const p of problems) action = strongerAction(action, p.action);
  // RFC 7606 §5.2: attributes (other than MP_UNREACH_NLRI) but no reachable NLRI: we cannot be sure
  // the NLRI were parsed, so any error stronger than attribute-discard resets the session.
  const onlyUnreach = seen.size === 1 && seen.has(AttrType.MP_UNREACH_NLRI);
  const missingNlri = !reachable && !onlyUnreach;
  if (missingNlri && action !== "attribute-discard") action = "session-reset";
  const lead =
    problems.find((p) => p.action === action) ??
    problems.find((p) => p.action !== "attribute-discard") ??
    problems[0]!;
  const reasons = problems.map((p) => p.reason);
  if (missingNlri && lead.action !== action) reasons.push("UPDATE carries no NLRI (RFC 7606 §5.2)");
  return new BgpError({
    action,
    code: 3,
    subcode: lead.subcode,
    ...(lead.data ? { data: lead.data } : {}),
    reason: reasons.join("; "),
    discarded: problems.flatMap((p) => (p.discarded ? [p.discarded] : [])),
    ...(action === "afi-safi-disable" ? { afi: lead.afi, safi: lead.safi } : {}),
  });
}

/** Encodes PathAttributes in property order; `flags` overrides the usual flags of an attribute. */
export function encodeAttributes(attrs: PathAttributes, ctx: CodecContext): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || key === "flags") continue;
    if (key === "unknown") {
      for (const u of attrs.unknown ?? []) {
        const v = Buffer.from(u.valueHex, "hex");
        if (v.length * 2 !== u.valueHex.length) throw new EncodeError(`bad hex in attribute ${u.code}`);
        parts.push(attributeHeader(u.flags, u.code, v.length), v);
      }
      continue;
    }
    const codec = BY_KEY.get(key);
    if (!codec) throw new EncodeError(`unknown path attribute ${JSON.stringify(key)}`);
    const v = codec.encode(value as never, ctx);
    const flags = attrs.flags?.[key as KnownAttrKey] ?? codec.flags;
    parts.push(attributeHeader(flags, codec.code, v.length), v);
  }
  return Buffer.concat(parts);
}

export function attributeHeader(flags: number, code: number, length: number): Buffer {
  if (length > 0xffff) throw new EncodeError(`attribute ${code} longer than 65535 octets`);
  if (length > 255 || flags & AttrFlag.EXTENDED_LENGTH) {
    const h = Buffer.alloc(4);
    h[0] = flags | AttrFlag.EXTENDED_LENGTH;
    h[1] = code;
    h.writeUInt16BE(length, 2);
    return h;
  }
  return Buffer.from([flags, code, length]);
}
