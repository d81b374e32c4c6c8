// Socket options Node does not expose, through a small native addon (native/sockopt.c):
// TCP MD5 signatures (RFC 2385) and the IP TTL. Linux values.
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import ipaddr from "ipaddr.js";

const IPPROTO_IP = 0;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const TCP_MD5SIG = 14;
const IP_TTL = 2;
const IPV6_UNICAST_HOPS = 16;
const IP_MINTTL = 21;
const IPV6_MINHOPCOUNT = 73;
const TCP_SAVE_SYN = 27;
const TCP_SAVED_SYN = 28;
const AF_INET = 2;
const AF_INET6 = 10;
/** linux/tcp.h: struct tcp_md5sig is a 128-octet sockaddr_storage, flags, prefix length, key length, ifindex, key[80] */
const MD5SIG_SIZE = 216;
const MD5_MAX_KEY = 80;

type Native = {
  setsockopt(fd: number, level: number, name: number, value: Buffer): void;
  /** the number of octets written into value */
  getsockopt(fd: number, level: number, name: number, value: Buffer): number;
};
let native: Native | undefined;
function addon(): Native {
  native ??= createRequire(import.meta.url)("../../build/Release/sockopt.node") as Native;
  return native;
}

interface WithHandle {
  _handle?: { fd?: number; connect?: unknown; connect6?: unknown } | null;
}

function fdOf(s: net.Socket | net.Server): number {
  const fd = (s as unknown as WithHandle)._handle?.fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("socket has no file descriptor yet");
  return fd;
}

function sockaddr(address: string, v6Socket: boolean): Buffer {
  const b = Buffer.alloc(128);
  if (net.isIPv4(address) && !v6Socket) {
    b.writeUInt16LE(AF_INET, 0);
    Buffer.from(ipaddr.IPv4.parse(address).toByteArray()).copy(b, 4);
    return b;
  }
  // An IPv4 peer on an IPv6 socket appears as an IPv4-mapped address.
  const ip = net.isIPv4(address)
    ? ipaddr.IPv4.parse(address).toIPv4MappedAddress()
    : ipaddr.IPv6.parse(address);
  b.writeUInt16LE(AF_INET6, 0);
  Buffer.from(ip.toByteArray()).copy(b, 8);
  return b;
}

/** The tcp_md5sig value for a peer; an empty key removes it. */
export function md5sig(peer: string, key: string, v6Socket: boolean): Buffer {
  const k = Buffer.from(key, "utf8");
  if (k.length > MD5_MAX_KEY) throw new Error(`TCP MD5 key longer than ${MD5_MAX_KEY} octets`);
  const b = Buffer.alloc(MD5SIG_SIZE);
  sockaddr(peer, v6Socket).copy(b, 0);
  b.writeUInt16LE(k.length, 130);
  k.copy(b, 136);
  return b;
}

function setInt(fd: number, level: number, name: number, value: number): void {
  const b = Buffer.alloc(4);
  if (os.endianness() === "LE") b.writeInt32LE(value);
  else b.writeInt32BE(value);
  addon().setsockopt(fd, level, name, b);
}

function isV6(s: net.Socket | net.Server): boolean {
  const a = s instanceof net.Server ? (s.address() as net.AddressInfo | null) : { family: s.localFamily };
  return a?.family === "IPv6";
}

/** RFC 2385: sign (and require signatures on) segments to and from `peer`. */
export function setMd5Key(s: net.Socket | net.Server, peer: string, key: string): void {
  addon().setsockopt(fdOf(s), IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, key, isV6(s)));
}

/** The outgoing IP TTL (IPv6 hop limit) of a socket. */
export function setTtlFd(fd: number, v6: boolean, ttl: number): void {
  setInt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_UNICAST_HOPS : IP_TTL, ttl);
}

/** RFC 5082 (GTSM): drop segments that arrive with a TTL (hop limit) below `minTtl`. */
export function setMinTtlFd(fd: number, v6: boolean, minTtl: number): void {
  setInt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_MINHOPCOUNT : IP_MINTTL, minTtl);
}

/** Keep each connection's SYN on this listening socket, so its TTL can be checked (synTtl). */
export function saveSyn(server: net.Server): void {
  setInt(fdOf(server), IPPROTO_TCP, TCP_SAVE_SYN, 1);
}

/**
 * The TTL (hop limit) of the SYN that opened an accepted socket, from TCP_SAVED_SYN (the saved
 * IP header: IPv4 TTL at octet 8, IPv6 hop limit at octet 7); undefined when none was saved.
 * The kernel hands it out once.
 */
export function synTtl(s: net.Socket): number | undefined {
  const b = Buffer.alloc(512);
  let n: number;
  try {
    n = addon().getsockopt(fdOf(s), IPPROTO_TCP, TCP_SAVED_SYN, b);
  } catch {
    return undefined;
  }
  if (n < 20) return undefined;
  return (b[0] as number) >> 4 === 6 ? b[7] : b[8];
}

/**
 * GTSM on an accepted socket (RFC 5082 §3): false when its SYN arrived below `minTtl`; else
 * later segments below it are dropped too, and we send with `ttl`.
 */
export function setGtsm(s: net.Socket, ttl: number, minTtl: number): boolean {
  const syn = synTtl(s);
  if (syn !== undefined && syn < minTtl) return false;
  const v6 = isV6(s) && !(s.remoteAddress ?? "").startsWith("::ffff:");
  setTtlFd(fdOf(s), v6, ttl);
  setMinTtlFd(fdOf(s), v6, minTtl);
  return true;
}

/**
 * Connects with socket options that must be in place before the SYN (TCP MD5). Node binds the
 * socket and then calls its handle's connect; the options are set in between.
 */
export function connectWith(
  options: { host: string; port: number; localAddress?: string; localPort?: number },
  beforeConnect: (fd: number, v6: boolean) => void,
): net.Socket {
  const v6 = net.isIPv6(options.host);
  const socket = new net.Socket();
  socket.connect({ ...options, localAddress: options.localAddress ?? (v6 ? "::" : "0.0.0.0") });
  const handle = (socket as unknown as WithHandle)._handle as Record<string, unknown> | undefined;
  if (!handle)
    throw new Error("net.Socket created no handle: this Node version is not supported for TCP MD5");
  for (const method of ["connect", "connect6"]) {
    const original = handle[method] as (...args: unknown[]) => number;
    handle[method] = function (this: { fd: number }, ...args: unknown[]) {
      beforeConnect(this.fd, v6);
      return original.apply(this, args);
    };
  }
  return socket;
}

export function md5Before(peer: string, key: string): (fd: number, v6: boolean) => void {
  return (fd, v6) => addon().setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, md5sig(peer, key, v6));
}
