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
 * Decodes the Path Attributes field at buf[start, end). `nlriFieldLength` is the length of the
 * UPDATE's own NLRI field: NEXT_HOP is mandatory only when it is non-zero (RFC 4760 §3).
 * This is the reflector's hot path: no views or names are made unless something is wrong.
 */
export function decodeAttributes(
  buf: Buffer,
  start: number,
  end: number,
  ctx: CodecContext,
  nlriFieldLength: number,
): AttributesDecode {
  const attrs: PathAttributes = {};
  const seen: number[] = [];
  let problems: Problem[] | undefined;
  let framingError = false;
  let off = start;
  while (off < end) {
    const flags = buf[off]!;
    const header = flags & AttrFlag.EXTENDED_LENGTH ? 4 : 3;
    // RFC 7606 §4: too few octets for an attribute header, or a length that overruns the field.
    if (off + header > end) {
      framingError = true;
      break;
    }
    const length = header === 4 ? buf.readUInt16BE(off + 2) : buf[off + 2]!;
    if (off + header + length > end) {
      framingError = true;
      break;
    }
    const problem = decodeOne(attrs, seen, ctx, buf, off, header, length);
    if (problem) {
      problems ??= [];
      problems.push(problem);
    }
    off += header + length;
  }
  problems ??= [];
  if (framingError) {
    problems.push({
      action: "treat-as-withdraw",
      subcode: 1,
      reason: "attribute framing error (RFC 7606 §4)",
    });
  }
  // A malformed MP_REACH_NLRI still announces routes: its errors are handled per family.
  const reachable = nlriFieldLength > 0 || seen.includes(AttrType.MP_REACH_NLRI);
  if (reachable) checkMandatory(problems, seen, nlriFieldLength);
  checkFirstAs(attrs, problems, ctx);
  if (problems.length === 0) return { attrs };
  return { attrs, error: combine(problems, reachable, seen) };
}

/**
 * Decodes one attribute into `attrs`, or returns what is wrong with it. `seen` holds the type
 * codes met so far (a handful: a linear search beats a Set).
 */
function decodeOne(
  attrs: PathAttributes,
  seen: number[],
  ctx: CodecContext,
  buf: Buffer,
  off: number,
  header: number,
  length: number,
): Problem | undefined {
  const flags = buf[off]!;
  const code = buf[off + 1]!;
  const codec = BY_CODE[code];
  const end = off + header + length;
  if (!codec) {
    // RFC 4271 §6.3: an unrecognized well-known attribute.
    if (!(flags & AttrFlag.OPTIONAL)) {
      return {
        action: "session-reset",
        subcode: 2,
        reason: `unrecognized well-known ${attributeName(code)}`,
        data: buf.subarray(off, end),
      };
    }
    if (seen.includes(code)) {
      const name = attributeName(code);
      return { action: "attribute-discard", subcode: 1, reason: `duplicate ${name}`, discarded: name };
    }
    seen.push(code);
    attrs.unknown ??= [];
    // A copy of its own, outside Buffer's shared pool: a view would keep the whole received chunk.
    const value = Buffer.allocUnsafeSlow(end - off - header);
    buf.copy(value, 0, off + header, end);
    attrs.unknown.push({ code, flags, value });
    return undefined;
  }
  if (seen.includes(code)) {
    // RFC 7606 §3(g): a repeated MP_REACH/MP_UNREACH resets the session; other copies are discarded.
    const reason = `duplicate ${codec.name}`;
    if (code === AttrType.MP_REACH_NLRI || code === AttrType.MP_UNREACH_NLRI) {
      return { action: "session-reset", subcode: 1, reason };
    }
    return { action: "attribute-discard", subcode: 1, reason, discarded: codec.name };
  }
  seen.push(code);
  // RFC 7606 §3(c): Optional/Transitive bits in conflict make the attribute malformed.
  if ((flags & OPTIONAL_TRANSITIVE) !== codec.flags) {
    const reason = `${codec.name} flags 0x${flags.toString(16)} conflict with 0x${codec.flags.toString(16)}`;
    const family = familyOf(code, buf, off + header, length);
    return malformed(codec.malformed, 4, reason, buf.subarray(off, end), codec.name, family);
  }
  if ((codec.ibgpOnly && ctx.ebgp) || (codec.oldSpeakerOnly && ctx.asn4)) {
    const why = codec.ibgpOnly ? "from an external peer" : "from a 4-octet AS speaker";
    return {
      action: "attribute-discard",
      subcode: 0,
      reason: `${codec.name} ${why} disregarded`,
      discarded: codec.name,
    };
  }
  try {
    (attrs as Record<string, unknown>)[codec.key] = codec.decode(buf, off + header, length, ctx);
  } catch (e) {
    if (!(e instanceof AttrFault)) throw e;
    const family = familyOf(code, buf, off + header, length);
    return malformed(
      e.action ?? codec.malformed,
      e.subcode,
      e.reason,
      buf.subarray(off, end),
      codec.name,
      family,
    );
  }
  const usual = codec.flags | (length > 255 ? AttrFlag.EXTENDED_LENGTH : 0);
  if (flags !== usual) {
    attrs.flags ??= {};
    attrs.flags[codec.key] = flags;
  }
  return undefined;
}

function familyOf(
  code: number,
  buf: Buffer,
  off: number,
  len: number,
): { afi: number; safi: number } | undefined {
  if ((code !== AttrType.MP_REACH_NLRI && code !== AttrType.MP_UNREACH_NLRI) || len < 3) return undefined;
  return { afi: buf.readUInt16BE(off), safi: buf[off + 2]! };
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
function checkMandatory(problems: Problem[], seen: readonly number[], nlriFieldLength: number): void {
  const required: number[] = [AttrType.ORIGIN, AttrType.AS_PATH];
  if (nlriFieldLength > 0) required.push(AttrType.NEXT_HOP);
  for (const code of required) {
    if (!seen.includes(code)) {
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

function combine(problems: Problem[], reachable: boolean, seen: readonly number[]): BgpError {
  let action: Rfc7606Action = "attribute-discard";
  for (const p of problems) action = strongerAction(action, p.action);
  // RFC 7606 §5.2: attributes (other than MP_UNREACH_NLRI) but no reachable NLRI: we cannot be sure
  // the NLRI were parsed, so any error stronger than attribute-discard resets the session.
  const onlyUnreach = seen.length === 1 && seen[0] === AttrType.MP_UNREACH_NLRI;
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
      for (const u of attrs.unknown ?? [])
        parts.push(attributeHeader(u.flags, u.code, u.value.length), u.value);
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
