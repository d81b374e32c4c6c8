// A scripted BGP speaker made of our codec, for driving the session driver message by message.
import net from "node:net";
import type { Duplex } from "node:stream";
import {
  type BgpMessage,
  type CodecContext,
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  Framer,
  makeContext,
  type OpenMessage,
} from "../../src/bgp/index.js";

export class RawPeer {
  readonly received: BgpMessage[] = [];
  private readonly framer = new Framer(true);
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(
    readonly socket: Duplex,
    readonly ctx: CodecContext = makeContext(),
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let f = this.framer.next(); f !== undefined; f = this.framer.next()) {
        if (!Buffer.isBuffer(f)) throw f;
        const { message } = decodeMessage(f, this.ctx);
        if (message) this.received.push(message);
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(m: BgpMessage): void {
    this.socket.write(encodeMessage(m, m.type === "UPDATE" ? this.ctx : DEFAULT_CONTEXT));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves with the first received message of that type (waiting for it if need be). */
  async next<T extends BgpMessage["type"]>(
    type: T,
    timeoutMs = 5000,
  ): Promise<Extract<BgpMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((m) => m.type === type);
      if (i >= 0) return this.received.splice(i, 1)[0] as Extract<BgpMessage, { type: T }>;
      if (this.closed) throw new Error(`closed before a ${type} arrived`);
      if (Date.now() > deadline) throw new Error(`no ${type} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  count(type: BgpMessage["type"]): number {
    return this.received.filter((m) => m.type === type).length;
  }
}

/** A scripted iBGP peer (AS 64512, 4-octet AS) connected over TCP from `local` to `target` port 179, Established. */
export async function tcpPeer(target: string, local: string, holdTime = 90): Promise<RawPeer> {
  const socket = net.connect({ host: target, port: 179, localAddress: local });
  const raw = new RawPeer(socket);
  await new Promise((r) => socket.once("connect", r));
  const open: OpenMessage = {
    type: "OPEN",
    version: 4,
    myAs: 64512,
    holdTime,
    bgpId: local,
    capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }],
  };
  raw.send(open);
  raw.send({ type: "KEEPALIVE" });
  await raw.next("KEEPALIVE", 20_000);
  return raw;
}
