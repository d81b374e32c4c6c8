// An in-memory connected socket pair: what one end writes, the other reads. Sessions run over
// it unchanged, for tests and for benchmarks beyond the open-file limit of real TCP.
import { Duplex } from "node:stream";

class End extends Duplex {
  other!: End;
  constructor() {
    super({ allowHalfOpen: false }); // like net.Socket: the peer's end closes ours
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(chunk);
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.destroy();
    cb(err);
  }
}

export function socketPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
