// OPEN, RFC 4271 §4.2, with RFC 9072 extended optional parameters:
//   +----------+---------------+-----------+-----------------+
//   | Version  | My AS (2)     | Hold Time | BGP Identifier  |
//   | (1)      |               | (2)       | (4)             |
//   +----------+---------------+-----------+-----------------+
//   | Opt Parm Len (1) | Optional Parameters: type (1), length (1), value ...
//   +------------------+
//   RFC 9072: Opt Parm Len 255 and first type 255 mean: Extended Length (2), then parameters
//   with a 2-octet length.
import { type Capability, decodeCapability, encodeCapability } from "./capabilities.js";
import { BGP_VERSION, ErrorCode, OpenSubcode, OptParamType } from "./constants.js";
import { BgpError, EncodeError, sessionReset } from "./errors.js";
import { ipv4Bytes, ipv4ToString } from "./ip.js";

export interface OpenMessage {
  type: "OPEN";
  version: number;
  myAs: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capability[];
  /**
   * How the capabilities were grouped into Capabilities optional parameters, when not one per
   * parameter: the number in each. Kept so that decode-then-encode gives back the same bytes.
   */
  capabilityGroups?: number[];
  /** RFC 9072 encoding was used (it is also used whenever it is needed). */
  extendedOptionalParameters?: boolean;
}

export interface OpenDecode {
  message?: OpenMessage;
  error?: BgpError;
}

const openError = (subcode: number, reason: string, data?: Buffer) =>
  sessionReset(ErrorCode.OPEN_MESSAGE, subcode, reason, data);

export function decodeOpen(body: Buffer): OpenDecode {
  const version = body[0]!;
  const myAs = body.readUInt16BE(1);
  const holdTime = body.readUInt16BE(3);
  const bgpId = ipv4ToString(body, 5);
  const message: OpenMessage = { type: "OPEN", version, myAs, holdTime, bgpId, capabilities: [] };
  try {
    decodeParameters(body, message);
  } catch (e) {
    if (e instanceof BgpError) return { message, error: e };
    throw e;
  }
  return { message, error: checkOpen(message) };
}

/** RFC 4271 §6.2 checks that need no configuration; peer AS and identifier clashes are the FSM's. */
function checkOpen(m: OpenMessage): BgpError | undefined {
  if (m.version !== BGP_VERSION) {
    // The data is the largest version we support, as a 2-octet number.
    return openError(
      OpenSubcode.UNSUPPORTED_VERSION_NUMBER,
      `unsupported version ${m.version}`,
      Buffer.from([0, 4]),
    );
  }
  if (m.holdTime === 1 || m.holdTime === 2) {
    return openError(OpenSubcode.UNACCEPTABLE_HOLD_TIME, `unacceptable hold time ${m.holdTime}`);
  }
  if (m.bgpId === "0.0.0.0") return openError(OpenSubcode.BAD_BGP_IDENTIFIER, "BGP identifier 0.0.0.0"); // RFC 6286 §2.2
  if (m.myAs === 0) return openError(OpenSubcode.BAD_PEER_AS, "peer AS 0"); // RFC 7607 §2
  return undefined;
}

function decodeParameters(body: Buffer, message: OpenMessage): void {
  let length = body[9]!;
  let off = 10;
  let wide = false;
  if (length === 255 && body[10] === OptParamType.EXTENDED_LENGTH) {
    if (body.length < 13)
      throw openError(OpenSubcode.UNSPECIFIC, "truncated extended optional parameters length");
    length = body.readUInt16BE(11);
    off = 13;
    wide = true;
    message.extendedOptionalParameters = true;
  }
  const end = off + length;
  if (end !== body.length) {
    throw openError(
      OpenSubcode.UNSPECIFIC,
      `optional parameters length ${length} does not match the message`,
    );
  }
  const groups: number[] = [];
  while (off < end) {
    const header = wide ? 3 : 2;
    if (off + header > end) throw openError(OpenSubcode.UNSPECIFIC, "truncated optional parameter");
    const type = body[off]!;
    const plen = wide ? body.readUInt16BE(off + 1) : body[off + 1]!;
    off += header;
    if (off + plen > end)
      throw openError(OpenSubcode.UNSPECIFIC, `optional parameter ${type} overruns the message`);
    if (type !== OptParamType.CAPABILITIES) {
      throw openError(OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, `unsupported optional parameter ${type}`);
    }
    groups.push(decodeCapabilities(body.subarray(off, off + plen), message.capabilities));
    off += plen;
  }
  if (groups.some((n) => n !== 1)) message.capabilityGroups = groups;
}

function decodeCapabilities(v: Buffer, out: Capability[]): number {
  let off = 0;
  let n = 0;
  while (off < v.length) {
    if (off + 2 > v.length) throw openError(OpenSubcode.UNSPECIFIC, "truncated capability");
    const code = v[off]!;
    const len = v[off + 1]!;
    if (off + 2 + len > v.length)
      throw openError(OpenSubcode.UNSPECIFIC, `capability ${code} overruns its parameter`);
    out.push(decodeCapability(code, v.subarray(off + 2, off + 2 + len)));
    off += 2 + len;
    n++;
  }
  return n;
}

export function encodeOpen(m: OpenMessage): Buffer {
  const caps = m.capabilities.map(encodeCapability);
  const groups = m.capabilityGroups ?? caps.map(() => 1);
  if (groups.reduce((a, b) => a + b, 0) !== caps.length) {
    throw new EncodeError("capabilityGroups does not add up to the number of capabilities");
  }
  const params: Buffer[] = [];
  let i = 0;
  for (const n of groups) {
    params.push(Buffer.concat(caps.slice(i, i + n)));
    i += n;
  }
  const narrow = params.reduce((a, p) => a + 2 + p.length, 0);
  const wide = m.extendedOptionalParameters || narrow > 255 || params.some((p) => p.length > 255);
  const head = Buffer.alloc(10);
  head[0] = m.version;
  head.writeUInt16BE(m.myAs, 1);
  head.writeUInt16BE(m.holdTime, 3);
  ipv4Bytes(m.bgpId).copy(head, 5);
  const encoded = params.map((p) => {
    const h = Buffer.alloc(wide ? 3 : 2);
    h[0] = OptParamType.CAPABILITIES;
    if (wide) h.writeUInt16BE(p.length, 1);
    else h[1] = p.length;
    return Buffer.concat([h, p]);
  });
  const all = Buffer.concat(encoded);
  if (!wide) {
    head[9] = all.length;
    return Buffer.concat([head, all]);
  }
  const ext = Buffer.from([OptParamType.EXTENDED_LENGTH, 0, 0]);
  ext.writeUInt16BE(all.length, 1);
  head[9] = 255;
  return Buffer.concat([head, ext, all]);
}
