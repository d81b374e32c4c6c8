// OPEN negotiation: what the peer's OPEN leaves the session with.
import { describe, expect, it } from "vitest";
import { AS_TRANS, decodeMessage, encodeMessage, makeContext } from "../../src/bgp/index.js";
import { buildOpen, negotiate } from "../../src/fsm/negotiate.js";
import type { Negotiated } from "../../src/fsm/types.js";
import { CFG, peerOpen } from "./helpers.js";

const ok = (n: ReturnType<typeof negotiate>) => {
  if (!("peerId" in n)) throw n;
  return n as Negotiated;
};

describe("OPEN negotiation", () => {
  it("our OPEN announces our families, route refresh, 4-octet AS and GR, and decodes cleanly", () => {
    const open = buildOpen({ ...CFG, localAs: 4200000001, peerAs: 4200000001 });
    expect(open.myAs).toBe(AS_TRANS);
    expect(open.capabilities.map((c) => c.code)).toEqual([1, 1, 2, 70, 65, 64]);
    expect(decodeMessage(encodeMessage(open, makeContext()), makeContext()).error).toBeUndefined();
  });

  it("takes a 4-octet peer AS from the capability when My AS is AS_TRANS (RFC 6793 §4.1)", () => {
    const cfg = { ...CFG, peerAs: 4200000002 };
    const n = ok(
      negotiate(
        cfg,
        peerOpen({ myAs: AS_TRANS, capabilities: [{ code: 65, name: "four-octet-as", asn: 4200000002 }] }),
      ),
    );
    expect([n.peerAs, n.asn4, n.rx.ebgp]).toEqual([4200000002, true, true]);
  });

  it("a 2-octet peer (no capability) gets 2-octet AS_PATHs", () => {
    const n = ok(negotiate(CFG, peerOpen({ capabilities: [] })));
    expect([n.asn4, n.rx.asn4, n.tx.asn4]).toEqual([false, false, false]);
    expect(n.families).toEqual(["ipv4"]); // RFC 4760 §8: no MP capability means IPv4 unicast
  });

  it("carries only the families both sides announced", () => {
    const n = ok(
      negotiate(CFG, peerOpen({ capabilities: [{ code: 1, name: "multiprotocol", afi: 2, safi: 1 }] })),
    );
    expect(n.families).toEqual(["ipv6"]);
  });

  it("ADD-PATH applies per direction: we receive where we offered receive and the peer offered send", () => {
    const cfg = { ...CFG, addPath: { ipv4: "both" as const, ipv6: "receive" as const } };
    const n = ok(
      negotiate(
        cfg,
        peerOpen({
          capabilities: [
            { code: 1, name: "multiprotocol", afi: 1, safi: 1 },
            { code: 1, name: "multiprotocol", afi: 2, safi: 1 },
            {
              code: 69,
              name: "add-path",
              families: [
                { afi: 1, safi: 1, sendReceive: 1 },
                { afi: 2, safi: 1, sendReceive: 3 },
              ],
            },
          ],
        }),
      ),
    );
    expect([n.addPathReceive, n.addPathSend]).toEqual([["ipv6"], ["ipv4"]]);
    expect([n.rx.addPath, n.tx.addPath]).toEqual([
      { ipv4: false, ipv6: true },
      { ipv4: true, ipv6: false },
    ]);
  });

  it("a missing required capability gets Unsupported Capability carrying that capability (RFC 5492 §5)", () => {
    const e = negotiate({ ...CFG, requiredCapabilities: [65] }, peerOpen({ capabilities: [] }));
    expect(e).toMatchObject({ code: 2, subcode: 7 });
    expect((e as { data: Buffer }).data).toEqual(Buffer.from([65, 4, 0, 0, 0xfc, 0]));
  });

  it("the peer's graceful restart capability is kept with its restart time and forwarding bits", () => {
    const n = ok(negotiate(CFG, peerOpen()));
    expect(n.gracefulRestart).toEqual({
      restartTime: 90,
      families: [{ family: "ipv4", forwarding: true }],
      notification: false,
      restarting: false,
      longLived: [],
    });
  });

  it("RFC 9494: long-lived graceful restart, announced with GR and our stale time; the peer's kept per family, only when we announced it", () => {
    const llgr = { ...CFG, gracefulRestart: { restartTime: 120, longLivedStaleTime: 0 } };
    expect(buildOpen(llgr).capabilities.find((c) => c.code === 71)).toEqual({
      code: 71,
      name: "long-lived-graceful-restart",
      families: [
        { afi: 1, safi: 1, flags: 0x80, staleTime: 0 },
        { afi: 2, safi: 1, flags: 0x80, staleTime: 0 },
      ],
    });
    expect(buildOpen(CFG).capabilities.some((c) => c.code === 71)).toBe(false);
    const theirs = peerOpen();
    theirs.capabilities.push({
      code: 71,
      name: "long-lived-graceful-restart",
      families: [
        { afi: 1, safi: 1, flags: 0x80, staleTime: 3600 },
        { afi: 25, safi: 70, flags: 0x80, staleTime: 10 },
      ],
    });
    expect(ok(negotiate(llgr, theirs)).gracefulRestart?.longLived).toEqual([
      { family: "ipv4", forwarding: true, staleTime: 3600 },
    ]);
    expect(ok(negotiate(CFG, theirs)).gracefulRestart?.longLived).toEqual([]);
    // without the GR capability, no LLGR (§3)
    const noGr = { ...theirs, capabilities: theirs.capabilities.filter((c) => c.code !== 64) };
    expect(ok(negotiate(llgr, noGr)).gracefulRestart).toBeUndefined();
  });

  // Issue 14: without families a client has nothing to retain across our restart (RFC 4724 §3),
  // and with F clear it would drop our routes once we are back (§4.2).
  it("our graceful restart capability lists each family with F set; R while restarting; N when asked", () => {
    const gr = (cfg: typeof CFG) => buildOpen(cfg).capabilities.find((c) => c.code === 64);
    expect(gr(CFG)).toEqual({
      code: 64,
      name: "graceful-restart",
      restartFlags: 0,
      restartTime: 120,
      families: [
        { afi: 1, safi: 1, flags: 0x80 },
        { afi: 2, safi: 1, flags: 0x80 },
      ],
    });
    const flags = gr({ ...CFG, gracefulRestart: { restartTime: 120, restarting: true, notification: true } });
    expect((flags as { restartFlags: number }).restartFlags).toBe(0x8 | 0x4);
    // and it survives the wire
    const wire = decodeMessage(encodeMessage(buildOpen(CFG), makeContext()), makeContext()).message;
    expect(wire?.type === "OPEN" && wire.capabilities.find((c) => c.code === 64)).toEqual(gr(CFG));
  });

  it("a peer's Restart State bit is kept: it will not wait for our End-of-RIB", () => {
    const open = peerOpen();
    (open.capabilities.find((c) => c.code === 64) as { restartFlags: number }).restartFlags = 0x8;
    expect(ok(negotiate(CFG, open)).gracefulRestart?.restarting).toBe(true);
  });

  it("extended messages only when both sides announce them (RFC 8654)", () => {
    const caps = [{ code: 6, name: "extended-message" } as const];
    expect(ok(negotiate(CFG, peerOpen({ capabilities: caps }))).extendedMessage).toBe(false);
    expect(
      ok(negotiate({ ...CFG, extendedMessage: true }, peerOpen({ capabilities: caps }))).rx.extendedMessage,
    ).toBe(true);
  });
});
