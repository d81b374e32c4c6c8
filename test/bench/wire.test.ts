// The simulated nodes' wire reader (bench/lib/wire.ts): where an UPDATE's routes are, End-of-RIB,
// the route index of a prefix, and the run-of-eight shortcut, against messages our encoder makes.
import { describe, expect, it } from "vitest";
import { fanoutPrefixOf, prefix6Of, prefixOf } from "../../bench/lib/plan.js";
import { type Located, locateRoutes, routeLayout, runOfEight } from "../../bench/lib/wire.js";
import { DEFAULT_CONTEXT, encodeMessage, endOfRib, type UpdateMessage } from "../../src/bgp/index.js";

const frame = (m: UpdateMessage) => encodeMessage(m, DEFAULT_CONTEXT);
const at = (): Located => ({ gone: 0, goneEnd: 0, added: 0, addedEnd: 0, endOfRib: false });
const base = { origin: "igp" as const, asPath: [], localPref: 100 };

/** The route index of the first prefix at buf[off], as clients.ts's scan computes it. */
function indexAt(buf: Buffer, off: number, layout: ReturnType<typeof routeLayout>): number {
  const a = off + 1 + layout.head.length;
  const addr = (buf[a]! << 24) | (buf[a + 1]! << 16) | (buf[a + 2]! << 8) | buf[a + 3]!;
  return ((addr - layout.base) | 0) >>> layout.shift;
}

describe("locateRoutes", () => {
  it("finds IPv4 withdrawn routes and NLRI in their fields", () => {
    const buf = frame({
      type: "UPDATE",
      withdrawn: [prefixOf(3)],
      attributes: { ...base, nextHop: "100.127.0.1" },
      nlri: [prefixOf(7), prefixOf(8)],
    });
    const r = at();
    locateRoutes(buf, 0, buf.length, 4, r);
    expect(r.endOfRib).toBe(false);
    expect(r.goneEnd - r.gone).toBe(5);
    expect(r.addedEnd - r.added).toBe(10);
    const layout = routeLayout(4, false, 100);
    expect(indexAt(buf, r.gone, layout)).toBe(3);
    expect(indexAt(buf, r.added, layout)).toBe(7);
    expect(indexAt(buf, r.added + 5, layout)).toBe(8);
  });

  it("finds IPv6 routes inside MP_REACH_NLRI and MP_UNREACH_NLRI", () => {
    const buf = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        ...base,
        mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::1"], nlri: [prefix6Of(5), prefix6Of(70000)] },
        mpUnreach: { afi: 2, safi: 1, withdrawn: [prefix6Of(9)] },
      },
      nlri: [],
    });
    const r = at();
    locateRoutes(buf, 0, buf.length, 6, r);
    expect(r.endOfRib).toBe(false);
    // a /122 is its length octet and 16 address octets
    expect(r.goneEnd - r.gone).toBe(17);
    expect(r.addedEnd - r.added).toBe(34);
    const layout = routeLayout(6, false, 100_000);
    expect(indexAt(buf, r.gone, layout)).toBe(9);
    expect(indexAt(buf, r.added, layout)).toBe(5);
    expect(indexAt(buf, r.added + 17, layout)).toBe(70000);
  });

  it("tells End-of-RIB for either family (RFC 4724 §2) from an UPDATE that only withdraws", () => {
    for (const family of [4, 6] as const) {
      const eor = frame(endOfRib(family === 4 ? 1 : 2, 1));
      const r = at();
      locateRoutes(eor, 0, eor.length, family, r);
      expect(r.endOfRib).toBe(true);
    }
    const withdraws = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { mpUnreach: { afi: 2, safi: 1, withdrawn: [prefix6Of(1)] } },
      nlri: [],
    });
    const r = at();
    locateRoutes(withdraws, 0, withdraws.length, 6, r);
    expect(r.endOfRib).toBe(false);
  });

  it("reads a message in place at an offset into a larger chunk", () => {
    const one = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...base, nextHop: "100.127.0.1" },
      nlri: [prefixOf(2)],
    });
    const chunk = Buffer.concat([Buffer.alloc(7), one, Buffer.alloc(3)]);
    const r = at();
    locateRoutes(chunk, 7, one.length, 4, r);
    expect(indexAt(chunk, r.added, routeLayout(4, false, 10))).toBe(2);
    expect(r.addedEnd).toBe(7 + one.length);
  });
});

describe("runOfEight", () => {
  const packed = (from: number, count: number) =>
    frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...base, nextHop: "203.0.113.1" },
      nlri: Array.from({ length: count }, (_, i) => fanoutPrefixOf(from + i)),
    });

  it("is true for eight consecutive /32s and false when one is missing or out of order", () => {
    const layout = routeLayout(4, true, 1000);
    const check = (buf: Buffer) => {
      const r = at();
      locateRoutes(buf, 0, buf.length, 4, r);
      const a = r.added + 1;
      const addr = (buf[a]! << 24) | (buf[a + 1]! << 16) | (buf[a + 2]! << 8) | buf[a + 3]!;
      expect(indexAt(buf, r.added, layout) % 8).toBe(0);
      return runOfEight(buf, r.added + 5, addr);
    };
    expect(check(packed(16, 8))).toBe(true);
    // seven, then the next run's first
    const gap = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...base, nextHop: "203.0.113.1" },
      nlri: [...Array.from({ length: 7 }, (_, i) => fanoutPrefixOf(16 + i)), fanoutPrefixOf(25)],
    });
    expect(check(gap)).toBe(false);
    const swapped = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...base, nextHop: "203.0.113.1" },
      nlri: [16, 17, 18, 19, 21, 20, 22, 23].map(fanoutPrefixOf),
    });
    expect(check(swapped)).toBe(false);
  });
});
