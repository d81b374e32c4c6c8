// RFC 5082 GTSM against BIRD 2 on loopback (127.0.45.x): with TTL security on both sides the
// session comes up whichever side connects; a BIRD that sends the usual TTL never gets through.
import { afterAll, describe, expect, it } from "vitest";
import { BASE, Ours, startBird, waitFor } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("GTSM (TTL security)", () => {
  it.each([
    ["they connect", "127.0.45.1", "127.0.45.2", true],
    ["we connect", "127.0.45.3", "127.0.45.4", false],
  ])(
    "%s: both sides with TTL security come up",
    async (_, ourAddr, birdAddr, wePassive) => {
      const ours = new Ours(ourAddr);
      await ours.listen();
      cleanup.push(() => ours.close());
      const peer = ours.add({
        ...BASE,
        routerId: ourAddr,
        peerAddress: birdAddr,
        peerPort: 179,
        passive: wePassive,
        ttl: 255,
        minTtl: 255,
      });
      const bird = await startBird(`gtsm-${birdAddr}`, {
        addr: birdAddr,
        peer: { addr: ourAddr, port: 179, asn: 64512 },
        ttlSecurity: true,
        passive: !wePassive,
      });
      cleanup.push(() => bird.stop());
      await waitFor(() => peer.session.state === "Established", 20_000, "Established");
      expect(bird.protocol().info).toBe("Established");
    },
    30_000,
  );

  it("a peer sending the usual TTL is dropped below the minimum: no session", async (ctx) => {
    reliability(ctx, {
      scenario: "GTSM (ttlSecurity)",
      load: "BIRD 2 peers",
      fault: "a peer whose packets arrive with the usual TTL (64) where TTL security asks for 255",
      checked: "its SYN's TTL is read and the connection dropped: no session; a peer sending 255 comes up",
    });
    const ours = new Ours("127.0.45.5");
    await ours.listen();
    cleanup.push(() => ours.close());
    const peer = ours.add({
      ...BASE,
      routerId: "127.0.45.5",
      peerAddress: "127.0.45.6",
      peerPort: 179,
      passive: true,
      ttl: 255,
      minTtl: 255,
    });
    const bird = await startBird("gtsm-plain", {
      addr: "127.0.45.6",
      peer: { addr: "127.0.45.5", port: 179, asn: 64512 },
    });
    cleanup.push(() => bird.stop());
    // BIRD keeps trying (connect retry 2 s); nothing it sends reaches us
    await new Promise((r) => setTimeout(r, 8000));
    expect(peer.session.state).not.toBe("Established");
    expect(bird.protocol().info).not.toBe("Established");
  }, 30_000);
});
