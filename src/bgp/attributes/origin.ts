// ORIGIN (type 1, well-known mandatory), RFC 4271 §5.1.1.
//   0 = IGP, 1 = EGP, 2 = INCOMPLETE; 1 octet.
import { AttrType } from "../constants.js";
import { EncodeError } from "../errors.js";
import { AttrFault, type AttributeCodec, fixedLength, type Origin } from "./types.js";

const ORIGINS: readonly Origin[] = ["igp", "egp", "incomplete"];

export const ORIGIN: AttributeCodec<"origin"> = {
  code: AttrType.ORIGIN,
  key: "origin",
  name: "ORIGIN",
  flags: 0x40,
  malformed: "treat-as-withdraw", // RFC 7606 §7.1
  decode(buf, off, len) {
    fixedLength(len, 1, "ORIGIN");
    const origin = ORIGINS[buf[off]!];
    if (!origin) throw new AttrFault(6, `undefined ORIGIN value ${buf[off]}`);
    return origin;
  },
  encode(origin) {
    const i = ORIGINS.indexOf(origin);
    if (i < 0) throw new EncodeError(`bad ORIGIN ${JSON.stringify(origin)}`);
    return Buffer.from([i]);
  },
};
