import { describe, expect, it } from "vitest";
import type { UpdateMessage } from "../../src/bgp/index.js";
import { AdjRibIn, AttrTable } from "../../src/rib/index.js";

describe("Adj-RIB-In", () => {
  it("clears 200,000 routes in one go, and the attribute set goes with its last route", () => {
    const table = new AttrTable();
    const rib = new AdjRibIn(table);
    const nlri = Array.from(
      { length: 200_000 },
      (_, i) => `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`,
    );
    const m: UpdateMessage = { type: "UPDATE", withdrawn: [], attributes: {}, nlri };
    rib.apply(
      m,
      table.intern("k", () => ({})),
    );
    expect(rib.count("ipv4")).toBe(200_000);
    expect(rib.clear().withdrawn).toHaveLength(200_000);
    expect(rib.count("ipv4")).toBe(0);
    expect(table.size).toBe(0);
  });
});
