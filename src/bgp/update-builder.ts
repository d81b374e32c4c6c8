// The hot path of encoding: UPDATE messages written back to back into large chunks, from an
// attribute block encoded once (and cached by the caller) plus IPv4 prefixes in the numeric form
// scanIpv4Nlri produces: (pathId, address, length) triples. No strings or objects per prefix,
// no Buffer per message: a chunk is what gets written to every member of an update group.
import { HEADER_LENGTH, MessageType } from "./constants.js";
import { EncodeError } from "./errors.js";

const DEFAULT_CHUNK = 64 * 1024;

function prefixSize(bits: number, addPath: boolean): number {
  return (addPath ? 5 : 1) + ((bits + 7) >> 3);
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
   * Announces IPv4 prefixes with one attribute block, packed into as few UPDATEs as the size
   * limit allows (RFC 4271 §4.3: withdrawn length 0, the attribute block, then NLRI).
   */
  announceIpv4(attributes: Buffer, triples: ArrayLike<number>, addPath: boolean): void {
    const fixed = HEADER_LENGTH + 4 + attributes.length;
    if (fixed + prefixSize(32, addPath) > this.maxLength)
      throw new EncodeError("attribute block leaves no room for NLRI");
    let i = 0;
    while (i < triples.length) {
      let size = fixed;
      let j = i;
      while (j < triples.length) {
        const s = prefixSize(triples[j + 2]!, addPath);
        if (size + s > this.maxLength) break;
        size += s;
        j += 3;
      }
      const buf = this.reserve(size);
      let off = this.writeHeader(buf, size);
      buf[off] = 0;
      buf[off + 1] = 0;
      buf[off + 2] = attributes.length >> 8;
      buf[off + 3] = attributes.length & 0xff;
      off += 4;
      off = copySmall(attributes, buf, off);
      for (; i < j; i += 3)
        off = writePrefix(buf, off, triples[i]!, triples[i + 1]!, triples[i + 2]!, addPath);
      this.used = off;
    }
  }

  /** Withdraws IPv4 prefixes, packed into as few UPDATEs as the size limit allows. */
  withdrawIpv4(triples: ArrayLike<number>, addPath: boolean): void {
    let i = 0;
    while (i < triples.length) {
      let size = HEADER_LENGTH + 4;
      let j = i;
      while (j < triples.length && size + prefixSize(triples[j + 2]!, addPath) <= this.maxLength) {
        size += prefixSize(triples[j + 2]!, addPath);
        j += 3;
      }
      const buf = this.reserve(size);
      let off = this.writeHeader(buf, size);
      const withdrawn = size - HEADER_LENGTH - 4;
      buf[off] = withdrawn >> 8;
      buf[off + 1] = withdrawn & 0xff;
      off += 2;
      for (; i < j; i += 3)
        off = writePrefix(buf, off, triples[i]!, triples[i + 1]!, triples[i + 2]!, addPath);
      buf[off] = 0;
      buf[off + 1] = 0;
      this.used = off + 2;
    }
  }

  /** Appends a message encoded elsewhere (MP_REACH_NLRI, End-of-RIB, ...). */
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

/** Buffer.copy costs a native call; for the short attribute blocks of Calico routes a loop is faster. */
function copySmall(src: Buffer, dst: Buffer, off: number): number {
  const n = src.length;
  if (n > 64) return off + src.copy(dst, off);
  for (let k = 0; k < n; k++) dst[off + k] = src[k]!;
  return off + n;
}

function writePrefix(
  buf: Buffer,
  off: number,
  pathId: number,
  addr: number,
  bits: number,
  addPath: boolean,
): number {
  if (addPath) {
    buf[off] = pathId >>> 24;
    buf[off + 1] = (pathId >>> 16) & 0xff;
    buf[off + 2] = (pathId >>> 8) & 0xff;
    buf[off + 3] = pathId & 0xff;
    off += 4;
  }
  buf[off++] = bits;
  const n = (bits + 7) >> 3;
  for (let i = 0; i < n; i++) buf[off++] = (addr >>> (24 - 8 * i)) & 0xff;
  return off;
}
