// NOTIFICATION, RFC 4271 §4.5:
//   +--------------+--------------+---------------------+
//   | Error code   | Error subcode| Data (variable)     |
//   +--------------+--------------+---------------------+
// Cease / Administrative Shutdown and Administrative Reset may carry a Shutdown Communication
// (RFC 8203, extended to 255 octets by RFC 9003 §2): a length octet, then UTF-8 text.
import { CeaseSubcode, ERROR_NAMES, ErrorCode } from "./constants.js";
import { EncodeError } from "./errors.js";

export interface NotificationMessage {
  type: "NOTIFICATION";
  code: number;
  subcode: number;
  dataHex: string;
  /** Decoded from the data when present and well formed; encoded when dataHex is absent. */
  shutdownCommunication?: string;
}

function carriesCommunication(code: number, subcode: number): boolean {
  return (
    code === ErrorCode.CEASE &&
    (subcode === CeaseSubcode.ADMINISTRATIVE_SHUTDOWN || subcode === CeaseSubcode.ADMINISTRATIVE_RESET)
  );
}

export function decodeNotification(body: Buffer): NotificationMessage {
  const code = body[0]!;
  const subcode = body[1]!;
  const data = body.subarray(2);
  const m: NotificationMessage = {
    type: "NOTIFICATION",
    code,
    subcode,
    dataHex: data.toString("hex").toUpperCase(),
  };
  if (carriesCommunication(code, subcode) && data.length > 0 && 1 + data[0]! <= data.length) {
    m.shutdownCommunication = data.toString("utf8", 1, 1 + data[0]!);
  }
  return m;
}

/** The Shutdown Communication as data: at most 255 octets, cut on a character boundary. */
export function shutdownData(text: string): Buffer {
  let bytes = Buffer.from(text, "utf8");
  if (bytes.length > 255) {
    let end = 255;
    while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export function encodeNotification(m: NotificationMessage): Buffer {
  let data: Buffer;
  if (m.dataHex !== undefined) {
    data = Buffer.from(m.dataHex, "hex");
    if (data.length * 2 !== m.dataHex.length) throw new EncodeError("bad hex in NOTIFICATION dataHex");
  } else if (m.shutdownCommunication !== undefined) {
    data = shutdownData(m.shutdownCommunication);
  } else {
    data = Buffer.alloc(0);
  }
  return Buffer.concat([Buffer.from([m.code, m.subcode]), data]);
}

/** "Cease / Administrative Shutdown" */
export function describeError(code: number, subcode: number): string {
  const e = ERROR_NAMES[code];
  if (!e) return `error ${code}/${subcode}`;
  const sub = e.subcodes[subcode];
  return sub ? `${e.name} / ${sub}` : subcode === 0 ? e.name : `${e.name} / subcode ${subcode}`;
}
