// The listener over real loopback TCP: only configured peers get an OPEN.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Listener, normaliseAddress, Session } from "../../src/fsm/index.js";
import { CFG } from "./helpers.js";

let listener: Listener | undefined;
let session: Session | undefined;
afterEach(async () => {
  session?.stop();
  await listener?.close();
});

function connectFrom(local: string): Promise<{ bytes: number; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.24.1", port: 1790, localAddress: local });
    let bytes = 0;
    s.on("data", (d) => {
      bytes += d.length;
      s.destroy();
    });
    s.on("error", () => {});
    s.on("close", () => resolve({ bytes, closed: true }));
    setTimeout(() => s.destroy(), 3000);
  });
}

describe("listener", () => {
  it("closes connections from unconfigured addresses before any OPEN, and counts them", async () => {
    const rejected: string[] = [];
    session = new Session({ ...CFG, passive: true, peerAddress: "127.0.24.2", peerPort: 179 });
    session.start();
    listener = new Listener(
      (addr) => (addr === "127.0.24.2" ? session : undefined),
      (addr) => rejected.push(addr),
    );
    await listener.listen(1790, "127.0.24.1");
    expect(await connectFrom("127.0.24.3")).toEqual({ bytes: 0, closed: true });
    expect([listener.rejected, rejected]).toEqual([1, ["127.0.24.3"]]);
    const ok = await connectFrom("127.0.24.2");
    expect(ok.bytes).toBeGreaterThan(0); // our OPEN
  });

  it("matches IPv4 peers seen on a dual-stack socket", () => {
    expect(normaliseAddress("::ffff:198.51.100.7")).toBe("198.51.100.7");
    expect(normaliseAddress("2001:db8::1")).toBe("2001:db8::1");
  });
});
