// Simulated peers for benchmarks: BGP speakers made of our codec, talking to a Reflector over
// the in-memory transport. They count what they receive and, when asked, parse it.
import type { Duplex } from "node:stream";
import { DEFAULT_CONTEXT, encodeMessage, Framer, KEEPALIVE, type OpenMessage } from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import type { Reflector } from "../../src/reflector/reflector.js";

export class SimPeer {
  bytes = 0;
  endOfRibs = 0;
  private readonly framer: Framer | undefined;
  readonly socket: Duplex;

  constructor(
    rr: Reflector,
    readonly address: string,
    id: string,
    parse = false,
  ) {
    rr.addPeer({ ...clientOf(rr.config), passive: true, families: ["ipv4"], peerAddress: address });
    const [ours, theirs] = socketPair();
    this.socket = theirs;
    this.framer = parse ? new Framer() : undefined;
    theirs.on("data", (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (!this.framer) return;
      this.framer.push(chunk);
      for (let f = this.framer.next(); f !== undefined; f = this.framer.next()) {
        // An IPv4 End-of-RIB is the one 23-octet UPDATE.
        if (Buffer.isBuffer(f) && f.length === 23 && f[18] === 2) this.endOfRibs++;
      }
    });
    rr.peer(address)!.session.accept(ours);
    const open: OpenMessage = {
      type: "OPEN",
      version: 4,
      myAs: 64512,
      holdTime: 90,
      bgpId: id,
      capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }],
    };
    theirs.write(encodeMessage(open, DEFAULT_CONTEXT));
    theirs.write(KEEPALIVE);
  }

  send(chunks: Buffer[]): void {
    for (const c of chunks) this.socket.write(c);
  }
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}
