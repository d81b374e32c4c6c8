// TCP MD5 signatures (RFC 2385) with BIRD: keys on our listening socket and on the sockets we
// connect from; a wrong key keeps the session down.
import { afterEach, describe, expect, it } from "vitest";
import { md5sig } from "../../src/fsm/index.js";
import { BASE, type Bird, Ours, startBird, waitFor } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const US = "127.0.23.1";
let ours: Ours | undefined;
let bird: Bird | undefined;

afterEach(async () => {
  await bird?.stop();
  bird = undefined;
  await ours?.close();
  ours = undefined;
});

describe("TCP MD5 (RFC 2385)", () => {
  it("lays out struct tcp_md5sig as Linux expects", () => {
    const b = md5sig("198.51.100.7", "secret", false);
    expect(b.length).toBe(216);
    expect([...b.subarray(0, 8)]).toEqual([2, 0, 0, 0, 198, 51, 100, 7]); // AF_INET, port 0, address
    expect(b.readUInt16LE(130)).toBe(6);
    expect(b.toString("utf8", 136, 142)).toBe("secret");
    const v6 = md5sig("198.51.100.7", "k", true); // IPv4 peer on an IPv6 socket: v4-mapped
    expect(v6.readUInt16LE(0)).toBe(10);
    expect(v6.subarray(8, 24).toString("hex")).toBe("00000000000000000000ffffc6336407");
  });

  for (const direction of ["they connect", "we connect"] as const) {
    it(`${direction}: a session with the same key comes up`, async () => {
      ours = new Ours(US);
      await ours.listen();
      const addr = direction === "they connect" ? "127.0.23.11" : "127.0.23.12";
      const peer = ours.add({
        ...BASE,
        routerId: US,
        peerAddress: addr,
        password: "rr-secret",
        passive: direction === "they connect",
      });
      bird = await startBird(`md5-${direction.replace(" ", "-")}`, {
        addr,
        peer: { addr: US, port: 179, asn: 64512 },
        password: "rr-secret",
        passive: direction === "we connect",
        routes: ["198.18.23.0/24"],
      });
      await waitFor(() => peer.rib.count("ipv4") === 1, 20_000, "a route over the signed session");
      expect(peer.session.state).toBe("Established");
    });
  }

  it("a wrong key keeps the session down", async (ctx) => {
    reliability(ctx, {
      scenario: "TCP MD5 with a wrong key",
      load: "a BIRD 2 peer",
      fault: "the peer signs with a different password",
      checked: "the kernel drops its segments: no session; the right key comes up",
    });
    ours = new Ours(US);
    await ours.listen();
    const peer = ours.add({
      ...BASE,
      routerId: US,
      peerAddress: "127.0.23.13",
      password: "right",
      passive: true,
    });
    bird = await startBird("md5-wrong", {
      addr: "127.0.23.13",
      peer: { addr: US, port: 179, asn: 64512 },
      password: "wrong",
    });
    await new Promise((r) => setTimeout(r, 6000));
    expect(peer.session.state).not.toBe("Established");
    expect(peer.session.bytesIn).toBe(0);
  });
});
