import { describe, expect, it } from "vitest";
import { DEFAULT_CONTEXT, encodeMessage, formatKey, scanUpdate } from "../../src/bgp/index.js";
import { AdjRibIn, AttrTable } from "../../src/rib/index.js";
import { recorder } from "../helpers/rib-sink.js";

describe("Adj-RIB-In", () => {
  it("reads 200,000 prefixes from NLRI octets, clears them in one go, and the attribute set goes with its last route", () => {
    const table = new AttrTable();
    const rib = new AdjRibIn(table);
    const sink = recorder();
    const set = table.intern("k", () => ({}));
    for (let u = 0; u < 400; u++) {
      const nlri = Array.from({ length: 500 }, (_, j) => {
        const i = u * 500 + j;
        return `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
      });
      const frame = encodeMessage(
        {
          type: "UPDATE",
          withdrawn: [],
          attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.9" },
          nlri,
        },
        DEFAULT_CONTEXT,
      );
      const body = frame.subarray(19);
      const [run] = scanUpdate(body, { ipv4: false, ipv6: false })!.reach;
      rib.nlri(body, run!.start, run!.end, run!.afi, false, set, sink);
    }
    expect(rib.count("ipv4")).toBe(200_000);
    expect(sink.announced).toHaveLength(200_000);
    expect(formatKey(sink.announced[70_000]![0])).toBe("100.65.17.112/32");
    rib.clear(undefined, sink);
    expect(sink.withdrawn).toHaveLength(200_000);
    expect(rib.count("ipv4")).toBe(0);
    expect(table.size).toBe(0);
  });
});
