// The hot path of encoding: UPDATE messages written back to back into large chunks, from an
// attribute block encoded once (and cached by the caller) plus prefixes as keys (prefix-key.ts)
// with the Path Identifier each is sent under. One writer for every family: IPv4 NLRI go in the
// UPDATE's own field, IPv6 in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), and each message is
// sized by arithmetic before it is written. No strings or objects per prefix, no Buffer per
// message: a chunk is what gets written to every member of an update group.
import { Afi, AttrFlag, AttrType, HEADER_LENGTH, MessageType } from "./constants.js";
import { EncodeError } from "./errors.js";
import { nlriSize, type PrefixKey, wireKey, writeNlri } from "./prefix-key.js";

const DEFAULT_CHUNK = 64 * 1024;

/** A path's attributes as they are sent, encoded once. */
export interface OutboundBlock {
  /** the Path Attributes other than MP_REACH_NLRI */
  readonly attrs: Buffer;
  /**
   * With NLRI in MP_REACH_NLRI (IPv6): its value up to the NLRI (AFI, SAFI, next hop length,
   * next hop, reserved octet). Empty: the NLRI go in the UPDATE's own field (IPv4).
   */
  readonly reach: Buffer;
}

/** Prefixes to write: (Path Identifier, key) pairs, flat. */
export type Prefixes = ArrayLike<number | PrefixKey>;

/** MP_REACH_NLRI / MP_UNREACH_NLRI: flags (optional, extended length), code, 2-octet length. */
const MP_HEADER = 4;
const MP_FLAGS = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH;

/** Octets of an UPDATE with this block and no prefix yet. */
export function blockOctets(block: OutboundBlock): number {
  return HEADER_LENGTH + 4 + block.attrs.length + (block.reach.length ? MP_HEADER + block.reach.length : 0);
}

export class UpdateBatch {
  private chunk: Buffer;
  private used = 0;
  private readonly done: Buffer[] = [];

  /** `maxLength`: 4096, or 65535 with RFC 8654 extended messages. */
  constructor(
    private readonly maxLength: number,
    private readonly chunkSize = DEFAULT_CHUNK,
  ) {
    this.chunk = Buffer.allocUnsafe(Math.max(chunkSize, maxLength));
  }

  /** The octets written so far. */
  get length(): number {
    return this.done.reduce((n, c) => n + c.length, 0) + this.used;
  }

  /**
   * Announces prefixes with one attribute block, packed into as few UPDATEs as the size limit
   * allows (RFC 4271 §4.3). With MP_REACH_NLRI it is the first attribute (RFC 7606 §5.1).
   */
  announce(block: OutboundBlock, prefixes: Prefixes, addPath: boolean): void {
    const fixed = blockOctets(block);
    const mp = block.reach.length > 0;
    const longest = mp ? 128 : 32;
    if (fixed + (addPath ? 5 : 1) + longest / 8 > this.maxLength)
      throw new EncodeError("attribute block leaves no room for NLRI");
    let i = 0;
    while (i < prefixes.length) {
      const j = this.fill(prefixes, i, fixed, addPath);
      const size = this.filled;
      const buf = this.reserve(size);
      let off = this.writeHeader(buf, size);
      buf[off] = 0;
      buf[off + 1] = 0;
      const attrsLength = size - HEADER_LENGTH - 4 - (mp ? 0 : size - fixed);
      buf.writeUInt16BE(attrsLength, off + 2);
      off += 4;
      if (mp) {
        buf[off] = MP_FLAGS;
        buf[off + 1] = AttrType.MP_REACH_NLRI;
        buf.writeUInt16BE(block.reach.length + size - fixed, off + 2);
        off = copySmall(block.reach, buf, off + MP_HEADER);
        off = this.writePrefixes(buf, off, prefixes, i, j, addPath);
        off = copySmall(block.attrs, buf, off);
      } else {
        off = copySmall(block.attrs, buf, off);
        off = this.writePrefixes(buf, off, prefixes, i, j, addPath);
      }
      this.used = off;
      i = j;
    }
  }

  /** Withdraws prefixes of a family, packed into as few UPDATEs as the size limit allows. */
  withdraw(afi: number, prefixes: Prefixes, addPath: boolean): void {
    const mp = afi !== Afi.IPV4;
    // IPv4: the Withdrawn Routes field; else MP_UNREACH_NLRI, the only attribute (AFI, SAFI, NLRI)
    const fixed = HEADER_LENGTH + 4 + (mp ? MP_HEADER + 3 : 0);
    let i = 0;
    while (i < prefixes.length) {
      const j = this.fill(prefixes, i, fixed, addPath);
      const size = this.filled;
      const buf = this.reserve(size);
      let off = this.writeHeader(buf, size);
      if (mp) {
        buf[off] = 0;
        buf[off + 1] = 0;
        buf.writeUInt16BE(size - HEADER_LENGTH - 4, off + 2);
        buf[off + 4] = MP_FLAGS;
        buf[off + 5] = AttrType.MP_UNREACH_NLRI;
        buf.writeUInt16BE(size - fixed + 3, off + 6);
        buf.writeUInt16BE(afi, off + 8);
        buf[off + 10] = 1; // SAFI unicast
        this.used = this.writePrefixes(buf, off + 11, prefixes, i, j, addPath);
      } else {
        buf.writeUInt16BE(size - fixed, off);
        off = this.writePrefixes(buf, off + 2, prefixes, i, j, addPath);
        buf[off] = 0;
        buf[off + 1] = 0;
        this.used = off + 2;
      }
      i = j;
    }
  }

  /**
   * IPv4 prefixes as (pathId, address, length) triples (scanIpv4Nlri's form), announced with an
   * IPv4 attribute block: the simulators' way in.
   */
  announceIpv4(attributes: Buffer, triples: ArrayLike<number>, addPath: boolean): void {
    this.announce({ attrs: attributes, reach: EMPTY }, pairsOf(triples), addPath);
  }

  /** IPv4 prefixes as triples, withdrawn. */
  withdrawIpv4(triples: ArrayLike<number>, addPath: boolean): void {
    this.withdraw(Afi.IPV4, pairsOf(triples), addPath);
  }

  /** Appends a message encoded elsewhere (End-of-RIB, ROUTE-REFRESH, ...). */
  append(message: Buffer): void {
    const buf = this.reserve(message.length);
    message.copy(buf, this.used);
    this.used += message.length;
  }

  /** The chunks written, each a whole number of messages; the batch is empty afterwards. */
  finish(): Buffer[] {
    if (this.used > 0) this.nextChunk();
    return this.done.splice(0);
  }

  /** the size of the message fill() measured */
  private filled = 0;

  /**
   * Where the message that starts at prefix pair `i` ends: as many as fit after `fixed` octets
   * (at least one: the caller checked that one fits). Its size is left in `filled`.
   */
  private fill(prefixes: Prefixes, i: number, fixed: number, addPath: boolean): number {
    let size = fixed;
    let j = i;
    while (j < prefixes.length) {
      const s = nlriSize(prefixes[j + 1] as PrefixKey, addPath);
      if (size + s > this.maxLength && j > i) break;
      size += s;
      j += 2;
    }
    this.filled = size;
    return j;
  }

  private writePrefixes(
    buf: Buffer,
    off: number,
    prefixes: Prefixes,
    i: number,
    j: number,
    addPath: boolean,
  ): number {
    for (let k = i; k < j; k += 2)
      off = writeNlri(prefixes[k + 1] as PrefixKey, buf, off, addPath, prefixes[k] as number);
    return off;
  }

  private reserve(size: number): Buffer {
    if (this.used + size > this.chunk.length) this.nextChunk();
    return this.chunk;
  }

  private nextChunk(): void {
    this.done.push(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(Math.max(this.chunkSize, this.maxLength));
    this.used = 0;
  }

  private writeHeader(buf: Buffer, size: number): number {
    let off = this.used;
    for (let k = 0; k < 16; k++) buf[off++] = 0xff;
    buf[off] = size >> 8;
    buf[off + 1] = size & 0xff;
    buf[off + 2] = MessageType.UPDATE;
    return off + 3;
  }
}

const EMPTY = Buffer.alloc(0);

/** (pathId, address, length) triples as (pathId, key) pairs. */
function pairsOf(triples: ArrayLike<number>): Prefixes {
  const out: (number | PrefixKey)[] = [];
  const octets = new Uint8Array(4);
  for (let i = 0; i < triples.length; i += 3) {
    const addr = triples[i + 1]!;
    octets[0] = addr >>> 24;
    octets[1] = (addr >>> 16) & 0xff;
    octets[2] = (addr >>> 8) & 0xff;
    octets[3] = addr & 0xff;
    out.push(triples[i]!, wireKey(octets, 0, Afi.IPV4, triples[i + 2]!, triples[i]!));
  }
  return out;
}

/** Buffer.copy costs a native call; for the short attribute blocks of Calico routes a loop is faster. */
function copySmall(src: Buffer, dst: Buffer, off: number): number {
  const n = src.length;
  if (n > 64) return off + src.copy(dst, off);
  for (let k = 0; k < n; k++) dst[off + k] = src[k]!;
  return off + n;
}
