// The simulated nodes' wire reader (bench/lib/wire.ts): where an UPDATE's routes are, End-of-RIB,
// the route index of a prefix, and runs of the table's routes, against messages our encoder makes.
import { describe, expect, it } from "vitest";
import { fanoutPrefixOf, prefix6Of, prefixOf } from "../../bench/lib/plan.js";
import { type Located, locateRoutes, matchedRun, nlriImage, routeLayout } from "../../bench/lib/wire.js";
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

describe("nlriImage and matchedRun", () => {
  const packed = (nlri: string[]) =>
    frame({ type: "UPDATE", withdrawn: [], attributes: { ...base, nextHop: "203.0.113.1" }, nlri });
  /** the NLRI field of an UPDATE our encoder makes */
  const field = (buf: Buffer) => {
    const r = at();
    locateRoutes(buf, 0, buf.length, 4, r);
    return buf.subarray(r.added, r.addedEnd);
  };

  it("holds every route's prefix as the encoder writes it, in each layout", () => {
    const cases = [
      { layout: routeLayout(4, false, 300), prefix: prefixOf },
      { layout: routeLayout(4, true, 300), prefix: fanoutPrefixOf },
    ];
    for (const { layout, prefix } of cases) {
      const all = Array.from({ length: 300 }, (_, i) => prefix(i));
      expect(nlriImage(layout).equals(field(packed(all)))).toBe(true);
    }
    const v6 = Array.from({ length: 200 }, (_, i) => prefix6Of(i));
    const buf = frame({
      type: "UPDATE",
      withdrawn: [],
      attributes: { ...base, mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::1"], nlri: v6 } },
      nlri: [],
    });
    const r = at();
    locateRoutes(buf, 0, buf.length, 6, r);
    expect(nlriImage(routeLayout(6, false, 200)).equals(buf.subarray(r.added, r.addedEnd))).toBe(true);
  });

  it("counts the consecutive routes from the first, and stops where the order breaks", () => {
    const layout = routeLayout(4, true, 1000);
    const image = nlriImage(layout);
    const runFrom = (indices: number[]) => {
      const f = field(packed(indices.map(fanoutPrefixOf)));
      return matchedRun(f, 0, f.length, image, layout, indices[0]!);
    };
    const from = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);
    expect(runFrom(from(16, 700))).toBe(700);
    expect(runFrom([7])).toBe(1);
    // the table's end bounds the run
    expect(runFrom(from(990, 10))).toBe(10);
    // a gap after 5: the run ends there (doubling finds 4 of the 5, the caller goes on from there)
    const gap = runFrom([...from(16, 5), 40, 41]);
    expect(gap).toBeGreaterThanOrEqual(4);
    expect(gap).toBeLessThanOrEqual(5);
    // two swapped: never counted past them
    expect(runFrom([16, 17, 18, 20, 19, 21])).toBeLessThanOrEqual(3);
    // a table in another order: each prefix a run of one
    expect(runFrom([16, 18, 20, 22])).toBe(1);
    expect(runFrom([20, 19, 18])).toBe(1);
    // a run that does not start at a whole field is bounded by the field's end
    const f = field(packed(from(16, 8).map(fanoutPrefixOf)));
    expect(matchedRun(f, 5, 20, image, layout, 17)).toBe(3);
  });
});
