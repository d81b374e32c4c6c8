// A peer's state above its session, as the engine keeps it: large tables come and go in one step.
import { describe, expect, it } from "vitest";
import { encodeMessage } from "../../src/bgp/index.js";
import { negotiate } from "../../src/fsm/index.js";
import type { Negotiated } from "../../src/fsm/types.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Neighbor } from "../../src/reflector/neighbor.js";
import { AttrTable } from "../../src/rib/index.js";
import { peerOpen } from "../fsm/helpers.js";
import { recorder } from "../helpers/rib-sink.js";

const sink = recorder();

const config = { ...clientOf({ routerId: "203.0.113.1", localAs: 64512 }), peerAddress: "127.0.0.2" };

function up(n: Neighbor): Negotiated {
  const negotiated = negotiate(config, peerOpen({ bgpId: "203.0.113.2" })) as Negotiated;
  n.up(negotiated, 0, sink);
  return negotiated;
}

/** 200,000 routes in UPDATEs of 500 prefixes. */
function fill(n: Neighbor, negotiated: Negotiated): void {
  for (let u = 0; u < 400; u++) {
    const nlri = Array.from({ length: 500 }, (_, i) => {
      const k = u * 500 + i;
      return `100.${64 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}/32`;
    });
    const frame = encodeMessage(
      {
        type: "UPDATE",
        withdrawn: [],
        attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.9" },
        nlri,
      },
      negotiated.rx,
    );
    expect(n.update(frame, sink).error).toBeUndefined();
  }
  expect(n.rib.count("ipv4")).toBe(200_000);
  sink.take();
}

describe("Neighbor", () => {
  it("a session with 200,000 routes goes down without graceful restart: all withdrawn in one change", () => {
    const n = new Neighbor({ ...config, gracefulRestart: undefined }, new AttrTable());
    fill(n, up(n));
    n.down(undefined, 1000, sink);
    expect(sink.take().withdrawn).toHaveLength(200_000);
    expect(n.rib.count("ipv4")).toBe(0);
  });

  it("200,000 stale routes of a restart: swept when the peer comes back without forwarding state, or when their time is up", () => {
    const n = new Neighbor(config, new AttrTable());
    const negotiated = up(n);
    fill(n, negotiated);
    const gr = {
      restartTime: 5,
      families: [{ family: "ipv4" as const, forwarding: true }],
      notification: false,
      restarting: false,
      longLived: [],
    };
    n.down(gr, 1000, sink);
    expect(sink.take().withdrawn).toHaveLength(0);
    expect(n.staleUntil).toBe(6000);
    n.expire(5999, sink);
    expect(sink.take().withdrawn).toHaveLength(0);
    n.expire(6000, sink);
    expect(sink.take().withdrawn).toHaveLength(200_000);
    fill(n, up(n));
    n.down(gr, 7000, sink);
    const back = {
      ...negotiated,
      gracefulRestart: { ...gr, families: [{ family: "ipv4" as const, forwarding: false }] },
    };
    n.up(back, 8000, sink);
    expect(sink.take().withdrawn).toHaveLength(200_000);
  });
});
