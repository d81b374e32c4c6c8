// The interning key of an UPDATE's attributes: equal for equal attributes whatever NLRI come
// with them (in the NLRI field, or inside MP_REACH_NLRI, whose length and extended-length bit
// grow with its NLRI), different when an attribute or the next hop differs.
import { describe, expect, it } from "vitest";
import { attributeKey, encodeMessage, makeContext, type PathAttributes } from "../../src/bgp/index.js";

const ctx = makeContext({ extendedMessage: true });
const attrs: PathAttributes = { origin: "igp", asPath: [], localPref: 100, communities: ["65000:1"] };

const v6 = (nlri: string[], nextHop = "2001:db8:ffff::1", a: PathAttributes = attrs) =>
  encodeMessage(
    {
      type: "UPDATE",
      withdrawn: [],
      attributes: { mpReach: { afi: 2, safi: 1, nextHop: [nextHop], nlri }, ...a },
      nlri: [],
    },
    ctx,
  );
const v4 = (nlri: string[]) =>
  encodeMessage(
    { type: "UPDATE", withdrawn: [], attributes: { ...attrs, nextHop: "203.0.113.1" }, nlri },
    ctx,
  );

const prefixes = (n: number) => Array.from({ length: n }, (_, i) => `2001:db8:${(i + 1).toString(16)}::/48`);

describe("attributeKey", () => {
  it("IPv6: the same for one prefix, for 40 (MP_REACH_NLRI over 255 octets: extended length) and for 2", () => {
    const one = attributeKey(v6(prefixes(1)));
    expect(attributeKey(v6(prefixes(2)))).toBe(one);
    expect(attributeKey(v6(prefixes(40)))).toBe(one);
  });

  it("IPv6: differs with the next hop or another attribute", () => {
    const one = attributeKey(v6(prefixes(1)));
    expect(attributeKey(v6(prefixes(1), "2001:db8:ffff::2"))).not.toBe(one);
    expect(attributeKey(v6(prefixes(1), undefined, { ...attrs, localPref: 200 }))).not.toBe(one);
  });

  it("IPv4: the same whatever the NLRI", () => {
    expect(attributeKey(v4(["198.18.1.0/24"]))).toBe(attributeKey(v4(["198.18.1.0/24", "198.18.2.0/24"])));
  });
});
