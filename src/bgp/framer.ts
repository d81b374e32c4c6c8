// A streaming framer (after BIRD's bgp_rx): TCP chunks in, whole messages out. A message that
// lies inside one chunk is returned as a view of it, without copying; one that spans chunks is
// copied once. Views stay valid only as long as the caller keeps the chunk unmodified.
import { HEADER_LENGTH, MAX_EXTENDED_MESSAGE_LENGTH, MAX_MESSAGE_LENGTH } from "./constants.js";
import type { BgpError } from "./errors.js";
import { checkHeader } from "./header.js";

export class Framer {
  private chunks: Buffer[] = [];
  private offset = 0;
  private buffered = 0;
  private failed: BgpError | undefined;
  /** 4096, or 65535 once the Extended Message capability is negotiated (RFC 8654). */
  maxLength: number;

  constructor(extendedMessage = false) {
    this.maxLength = extendedMessage ? MAX_EXTENDED_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  }

  /** Octets received and not yet returned as messages. */
  get pending(): number {
    return this.buffered;
  }

  /** Whether the octets buffered hold a whole message (or a header to answer with an error). */
  get whole(): boolean {
    if (this.failed || this.buffered < HEADER_LENGTH) return false;
    const checked = checkHeader(this.contiguous(HEADER_LENGTH), this.offset, this.maxLength);
    return typeof checked !== "number" || this.buffered >= checked;
  }

  push(chunk: Buffer): void {
    if (this.failed || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next whole message (header included), undefined when more octets are needed, or the
   * header error to answer with. After an error the framer returns nothing more.
   */
  next(): Buffer | BgpError | undefined {
    if (this.failed || this.buffered < HEADER_LENGTH) return undefined;
    const head = this.contiguous(HEADER_LENGTH);
    const checked = checkHeader(head, this.offset, this.maxLength);
    if (typeof checked !== "number") {
      this.failed = checked;
      this.chunks = [];
      this.buffered = 0;
      return checked;
    }
    if (this.buffered < checked) return undefined;
    const first = this.contiguous(checked);
    const msg = first.subarray(this.offset, this.offset + checked);
    this.offset += checked;
    this.buffered -= checked;
    if (this.offset === first.length) {
      this.chunks.shift();
      this.offset = 0;
    }
    return msg;
  }

  /** Makes the first `n` buffered octets one contiguous run in chunks[0] and returns it. */
  private contiguous(n: number): Buffer {
    let first = this.chunks[0]!;
    if (first.length - this.offset >= n) return first;
    const parts: Buffer[] = [first.subarray(this.offset)];
    let have = parts[0]!.length;
    let i = 1;
    while (have < n) {
      const c = this.chunks[i++]!;
      parts.push(c);
      have += c.length;
    }
    first = Buffer.concat(parts, have);
    this.chunks.splice(0, i, first);
    this.offset = 0;
    return first;
  }
}
