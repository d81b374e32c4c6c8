// BGPFilter rules on single routes: what each condition means as BIRD evaluates confd's
// rendering of it (test/interop/bgpfilter.test.ts compares whole tables with BIRD for IPv4).
import { describe, expect, it } from "vitest";
import { type PathAttributes, prefixKey } from "../../src/bgp/index.js";
import type { FilterRule } from "../../src/datastore/resources.js";
import { applyOperations, ExportPolicy, FilterChain } from "../../src/reflector/policy.js";

/** A route's prefix as the reflector holds it (rib/keys.ts). */
const keyOf = (prefix: string) => prefixKey(prefix.includes(":") ? "ipv6" : "ipv4", prefix);

const rule = (r: Partial<FilterRule>): FilterRule => ({ action: "Accept", operations: [], ...r });
const decide = (rules: FilterRule[], prefix: string, attributes: PathAttributes = {}, internal = true) =>
  new FilterChain(rules).decide({ prefix: keyOf(prefix), attributes, internal });

describe("BGPFilter rules", () => {
  it("compare prefixes as BIRD's ~, =, !~ and != do, IPv4 and IPv6", () => {
    const cases: [FilterRule["cidr"], string, boolean][] = [
      [{ prefix: "198.18.0.0/16", operator: "In" }, "198.18.4.0/24", true],
      [{ prefix: "198.18.0.0/16", operator: "In" }, "198.18.0.0/16", true],
      [{ prefix: "198.18.0.0/16", operator: "In" }, "198.18.0.0/15", false],
      [{ prefix: "198.18.0.0/16", operator: "In" }, "198.19.0.0/24", false],
      [{ prefix: "198.18.0.0/16", operator: "NotIn" }, "198.19.0.0/24", true],
      [{ prefix: "198.18.0.0/16", operator: "Equal" }, "198.18.0.0/16", true],
      [{ prefix: "198.18.0.0/16", operator: "Equal" }, "198.18.0.0/17", false],
      [{ prefix: "198.18.0.0/16", operator: "NotEqual" }, "198.18.0.0/17", true],
      [{ prefix: "198.18.0.0/15", operator: "In", lengths: { min: 24, max: 26 } }, "198.19.7.0/24", true],
      [{ prefix: "198.18.0.0/15", operator: "In", lengths: { min: 24, max: 26 } }, "198.19.7.0/27", false],
      [{ prefix: "198.18.0.0/15", operator: "In", lengths: { min: 24, max: 26 } }, "198.19.0.0/16", false],
      [{ prefix: "198.18.0.0/15", operator: "NotIn", lengths: { min: 24, max: 26 } }, "198.19.0.0/16", true],
      [{ prefix: "100.64.0.0/10", operator: "In" }, "100.127.255.0/24", true],
      [{ prefix: "100.64.0.0/10", operator: "In" }, "100.128.0.0/24", false],
      [{ prefix: "2001:db8:5000::/48", operator: "In" }, "2001:db8:5000:7::/64", true],
      [{ prefix: "2001:db8:5000::/48", operator: "In" }, "2001:db8:5001::/64", false],
      [{ prefix: "2001:db8:5000::/47", operator: "In" }, "2001:db8:5001::/64", true],
      [
        { prefix: "2001:db8::/32", operator: "In", lengths: { min: 122, max: 128 } },
        "2001:db8:1::40/122",
        true,
      ],
      [{ prefix: "2001:db8::/32", operator: "Equal" }, "2001:db8::/32", true],
    ];
    for (const [cidr, prefix, applies] of cases) {
      expect(
        decide([rule({ cidr: cidr! })], prefix).rule,
        `${cidr?.operator} ${cidr?.prefix} ${prefix}`,
      ).toBe(applies ? 0 : -1);
    }
  });

  it("take the first rule that applies; none: no verdict", () => {
    const rules = [
      rule({ action: "Reject", cidr: { prefix: "198.18.9.0/24", operator: "Equal" } }),
      rule({ cidr: { prefix: "198.18.0.0/16", operator: "In" } }),
      rule({ action: "Reject" }),
    ];
    expect(decide(rules, "198.18.9.0/24")).toEqual({ rule: 0, accept: false });
    expect(decide(rules, "198.18.10.0/24")).toEqual({ rule: 1, accept: true });
    expect(decide(rules, "198.19.10.0/24")).toEqual({ rule: 2, accept: false });
    expect(decide(rules.slice(0, 2), "198.19.10.0/24")).toEqual({ rule: -1, accept: true });
  });

  it("match communities, the AS_PATH's first ASNs, the priority and the peer type", () => {
    const a: PathAttributes = {
      communities: ["65000:100"],
      largeCommunities: ["65000:100:200"],
      asPath: [
        { type: "AS_SEQUENCE", asns: [65000] },
        { type: "AS_SEQUENCE", asns: [65001, 65002] },
      ],
      localPref: 2147483547,
    };
    const applies = (r: Partial<FilterRule>, internal = true) =>
      decide([rule(r)], "198.18.0.0/24", a, internal).rule === 0;
    expect(applies({ community: "65000:100" })).toBe(true);
    expect(applies({ community: "65000:101" })).toBe(false);
    expect(applies({ community: "65000:100:200" })).toBe(true);
    expect(applies({ community: "65000:100:201" })).toBe(false);
    // the path read as one list of ASNs, across segments
    expect(applies({ asPathPrefix: [65000, 65001] })).toBe(true);
    expect(applies({ asPathPrefix: [65000, 65001, 65002] })).toBe(true);
    expect(applies({ asPathPrefix: [65000, 65001, 65002, 65003] })).toBe(false);
    expect(applies({ asPathPrefix: [65001] })).toBe(false);
    expect(applies({ priority: 100 })).toBe(true);
    expect(applies({ priority: 101 })).toBe(false);
    // a route without LOCAL_PREF has BIRD's 100: priority 2147483547
    expect(decide([rule({ priority: 2147483547 })], "198.18.0.0/24").rule).toBe(0);
    expect(applies({ peerType: "iBGP" })).toBe(true);
    expect(applies({ peerType: "eBGP" })).toBe(false);
    expect(applies({ peerType: "eBGP" }, false)).toBe(true);
    // no outgoing interface on a reflector; every route here is learned over BGP
    expect(applies({ interface: "*" })).toBe(false);
    expect(applies({ source: "RemotePeers" })).toBe(true);
    // every condition must hold
    expect(applies({ community: "65000:100", priority: 101 })).toBe(false);
  });

  it("operations add a community once, prepend ASNs in the order listed, set LOCAL_PREF from the priority", () => {
    const a: PathAttributes = { communities: ["65000:1"], asPath: [{ type: "AS_SEQUENCE", asns: [65010] }] };
    const out = applyOperations(a, [
      { addCommunity: "65000:1" },
      { addCommunity: "65000:2" },
      { addCommunity: "65000:3:4" },
      { prependAsPath: [64999, 64998] },
      { setPriority: 256 },
    ]);
    expect(out).toEqual({
      communities: ["65000:1", "65000:2"],
      largeCommunities: ["65000:3:4"],
      asPath: [{ type: "AS_SEQUENCE", asns: [64999, 64998, 65010] }],
      localPref: 2147483647 - 256,
    });
    // the route's own attributes are left as they were (they are shared)
    expect(a.communities).toEqual(["65000:1"]);
    expect(applyOperations({}, [{ prependAsPath: [64999] }]).asPath).toEqual([
      { type: "AS_SEQUENCE", asns: [64999] },
    ]);
  });
});

describe("the default export (calico/node's calico_export_to_bgp_peers)", () => {
  const tail = {
    reject: ["198.19.88.0/24"],
    accept: ["198.19.70.0/24", "198.18.0.0/16", "198.19.88.0/24"],
    communities: [
      { cidr: "198.18.0.0/16", communities: ["64512:1"] },
      { cidr: "198.18.5.0/24", communities: ["64512:2", "64512:3:4"] },
    ],
  };
  const decide = (prefix: string, rules: FilterRule[] = []) =>
    new ExportPolicy(rules, tail).decide({ prefix: keyOf(prefix), attributes: {}, internal: true });

  it("rejects in a pool with disableBGPExport, accepts in a service range or pool, rejects the rest", () => {
    expect(decide("198.19.88.0/26").accept).toBe(false);
    expect(decide("198.19.70.10/32")).toEqual({ accept: true, ops: [], key: "" });
    expect(decide("198.18.9.0/26").accept).toBe(true);
    expect(decide("100.64.0.0/24").accept).toBe(false);
  });

  it("adds every matching prefix advertisement's communities, in order", () => {
    expect(decide("198.18.5.0/26").ops).toEqual([
      { addCommunity: "64512:1" },
      { addCommunity: "64512:2" },
      { addCommunity: "64512:3:4" },
    ]);
    expect(decide("198.18.6.0/26").ops).toEqual([{ addCommunity: "64512:1" }]);
    // one verdict object per set, for the caches keyed by it
    expect(decide("198.18.7.0/26").key).toBe(decide("198.18.6.0/26").key);
    expect(decide("198.18.5.0/26").key).not.toBe(decide("198.18.6.0/26").key);
  });

  it("a BGPFilter rule that decides ends the export there: no default export, no advertisements", () => {
    const accept = rule({ cidr: { prefix: "100.64.0.0/10", operator: "In" } });
    expect(decide("100.64.0.0/24", [accept])).toEqual({ accept: true, ops: [], key: "" });
    const reject = rule({ action: "Reject", cidr: { prefix: "198.18.0.0/16", operator: "In" } });
    expect(decide("198.18.5.0/26", [reject]).accept).toBe(false);
    // no rule: the default export
    expect(decide("198.18.6.0/26", [accept]).ops).toEqual([{ addCommunity: "64512:1" }]);
  });
});
