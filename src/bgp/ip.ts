// Addresses and prefixes: wire bytes <-> text. IPv4 by hand (hot), IPv6 through ipaddr.js.
import ipaddr from "ipaddr.js";
import { Afi } from "./constants.js";
import { EncodeError } from "./errors.js";

export function ipv4ToString(buf: Uint8Array, off: number): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

export function ipv6ToString(buf: Uint8Array, off: number): string {
  return ipaddr.fromByteArray(Array.from(buf.subarray(off, off + 16))).toString();
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad text into a 32-bit unsigned number. */
export function parseIpv4(text: string): number {
  const m = IPV4_RE.exec(text);
  if (!m) throw new EncodeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) throw new EncodeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    n = n * 256 + octet;
  }
  return n;
}

/**
 * Dotted-quad text (up to `end`) as an unsigned number, without the checks of parseIpv4: for
 * text this program wrote or already checked (prefixes, router IDs), on the hot path.
 */
export function ipv4Number(text: string, end = text.length): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + c - 48;
  }
  return n * 256 + octet;
}

export function ipv4Bytes(text: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parseIpv4(text));
  return b;
}

export function ipv6Bytes(text: string): Buffer {
  if (!ipaddr.IPv6.isValid(text)) throw new EncodeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return Buffer.from(ipaddr.IPv6.parse(text).toByteArray());
}

export function isIpv6Text(text: string): boolean {
  return text.includes(":");
}

// The text of an IPv4 prefix is written here and read out as one string: a template literal
// would build a string per part (the hot path: every prefix of every UPDATE).
const scratch = Buffer.alloc(18);

function putDecimal(n: number, at: number): number {
  if (n >= 100) scratch[at++] = 48 + Math.floor(n / 100);
  if (n >= 10) scratch[at++] = 48 + (Math.floor(n / 10) % 10);
  scratch[at++] = 48 + (n % 10);
  return at;
}

function formatIpv4Prefix(buf: Uint8Array, off: number, bits: number): string {
  const n = (bits + 7) >> 3;
  let at = 0;
  for (let i = 0; i < 4; i++) {
    let octet = i < n ? buf[off + i]! : 0;
    if (i === n - 1 && bits & 7) octet &= (0xff << (8 - (bits & 7))) & 0xff;
    at = putDecimal(octet, at);
    scratch[at++] = i < 3 ? 46 /* . */ : 47 /* / */;
  }
  at = putDecimal(bits, at);
  return scratch.toString("latin1", 0, at);
}

/** A prefix as text: "198.18.0.0/15" or "2001:db8::/32", host bits cleared. */
export function formatPrefix(afi: number, buf: Uint8Array, off: number, bits: number): string {
  if (afi === Afi.IPV4) return formatIpv4Prefix(buf, off, bits);
  const addr = new Uint8Array(16);
  const n = (bits + 7) >> 3;
  for (let i = 0; i < n; i++) addr[i] = buf[off + i]!;
  if (bits & 7) addr[n - 1]! &= (0xff << (8 - (bits & 7))) & 0xff;
  return `${ipv6ToString(addr, 0)}/${bits}`;
}

export interface ParsedPrefix {
  afi: number;
  bits: number;
  /** the address bytes that go on the wire: ceil(bits / 8) of them */
  bytes: Buffer;
}

export function parsePrefix(text: string): ParsedPrefix {
  const slash = text.lastIndexOf("/");
  if (slash < 0) throw new EncodeError(`prefix without length: ${JSON.stringify(text)}`);
  const addrText = text.slice(0, slash);
  const bits = Number(text.slice(slash + 1));
  const v6 = isIpv6Text(addrText);
  const max = v6 ? 128 : 32;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new EncodeError(`bad prefix length in ${JSON.stringify(text)}`);
  }
  const addr = v6 ? ipv6Bytes(addrText) : ipv4Bytes(addrText);
  return { afi: v6 ? Afi.IPV6 : Afi.IPV4, bits, bytes: addr.subarray(0, (bits + 7) >> 3) };
}
