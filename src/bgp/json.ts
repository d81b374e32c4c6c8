// Messages as JSON (docs/codec-json.md) at the edges: the decode and encode commands and the
// control API. Inside, an unknown attribute's value is its octets (a Buffer); in JSON it is
// `valueHex`, upper-case hex, as it always was.
import { EncodeError } from "./errors.js";

/** For JSON.stringify: an unknown attribute's octets as valueHex. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (isUnknownAttribute(value)) {
    const { value: octets, ...rest } = value;
    return { ...rest, valueHex: octets.toString("hex").toUpperCase() };
  }
  return value;
}

/** For JSON.parse: an unknown attribute's valueHex as octets; bad hex is an EncodeError. */
export function jsonReviver(_key: string, value: unknown): unknown {
  const v = value as { code?: unknown; flags?: unknown; valueHex?: unknown } | null;
  if (typeof v !== "object" || v === null || typeof v.valueHex !== "string" || typeof v.flags !== "number")
    return value;
  const { valueHex, ...rest } = v as { valueHex: string };
  if (!/^([0-9a-f]{2})*$/i.test(valueHex)) throw new EncodeError(`bad hex in attribute ${String(v.code)}`);
  return { ...rest, value: Buffer.from(valueHex, "hex") };
}

function isUnknownAttribute(v: unknown): v is { code: number; flags: number; value: Buffer } {
  const u = v as { code?: unknown; flags?: unknown; value?: unknown } | null;
  return typeof u === "object" && u !== null && typeof u.code === "number" && Buffer.isBuffer(u.value);
}
