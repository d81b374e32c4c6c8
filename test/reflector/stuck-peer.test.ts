// A peer that stops reading (and so stops sending keepalives) while 100,000 routes flow to it,
// over TCP on loopback (127.0.74.x):
// what is queued for it stays bounded, its hold timer drops it, and another client gets every
// route meanwhile.
import net from "node:net";
import { afterAll, expect, it } from "vitest";
import type { UpdateMessage } from "../../src/bgp/index.js";
import { Listener } from "../../src/fsm/index.js";
import { PEER_DEFAULTS } from "../../src/reflector/defaults.js";
import { HIGH_WATER } from "../../src/reflector/groups.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { peerOpen } from "../fsm/helpers.js";
import { waitFor } from "../helpers/lab.js";
import { RawPeer } from "../helpers/raw-peer.js";
import { establish } from "../helpers/reflector-peer.js";

const rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512 });
afterAll(() => rr.stop());

const listener = new Listener((remote) => rr.peer(remote)?.session);
afterAll(() => listener.close());
let port = 0;

/** A peer over real TCP (the kernel's and Node's buffers are what a stuck reader fills). */
async function join(address: string, holdTime: number): Promise<RawPeer> {
  if (!port) port = (await listener.listen(0, "127.0.74.10")).port;
  rr.addPeer({
    ...PEER_DEFAULTS,
    peerAs: 64512,
    passive: true,
    families: ["ipv4"],
    peerAddress: address,
    holdTime,
  });
  const theirs = net.connect({ host: "127.0.74.10", port, localAddress: address });
  const open = peerOpen({
    bgpId: address,
    holdTime,
    capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }],
  });
  return establish(rr, address, new RawPeer(theirs), open);
}

it("a peer that stops reading is held to a bounded queue and dropped by its hold timer", async () => {
  const source = await join("127.0.74.1", 90);
  const client = await join("127.0.74.2", 90);
  const stuck = await join("127.0.74.3", 3);
  stuck.socket.pause(); // reads nothing more, and sends no keepalive
  const keepalive = setInterval(() => {
    source.send({ type: "KEEPALIVE" });
    client.send({ type: "KEEPALIVE" });
  }, 1000);
  let maxQueued = 0;
  const watch = setInterval(() => {
    maxQueued = Math.max(maxQueued, rr.peer("127.0.74.3")?.session.writableLength ?? 0);
  }, 5);
  try {
    for (let m = 0; m < 200; m++) {
      const nlri = Array.from({ length: 500 }, (_, i) => {
        const n = m * 500 + i;
        return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/32`;
      });
      const u: UpdateMessage = {
        type: "UPDATE",
        withdrawn: [],
        attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.1", localPref: 100 },
        nlri,
      };
      source.send(u);
    }
    await waitFor(() => rr.rib.size === 100_000, 60_000, "100,000 routes in");
    // the hold timer (3 s) drops the stuck peer
    await waitFor(() => rr.peer("127.0.74.3")?.session.state !== "Established", 10_000, "hold timer expiry");
    // the client gets every route
    const count = () => {
      let n = 0;
      for (const u of client.received) if (u.type === "UPDATE") n += u.nlri.length;
      return n;
    };
    await waitFor(() => count() >= 100_000, 60_000, "the client's table");
    expect(rr.peer("127.0.74.2")?.session.state).toBe("Established");
    // never more queued in the process than the high-water mark plus what one flush adds (the
    // 0.6 MB table fits in the kernel's socket buffers; test/reflector/slow-member.test.ts fills them)
    expect(maxQueued).toBeLessThan(HIGH_WATER + 8 * 1024 * 1024);
    expect(rr.peer("127.0.74.2")?.session.state).toBe("Established");
  } finally {
    clearInterval(keepalive);
    clearInterval(watch);
    for (const p of [source, client, stuck]) p.socket.destroy();
  }
}, 120_000);
