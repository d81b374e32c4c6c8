// RFC 4456 reflection rules and outbound attributes.
import { describe, expect, it } from "vitest";
import type { PathAttributes } from "../../src/bgp/index.js";
import {
  inboundAttributes,
  isLooped,
  mayAdvertise,
  outboundAttributes,
  type Role,
} from "../../src/reflector/rules.js";

const ROLES: Role[] = ["client", "non-client", "ebgp"];
const MATRIX: Record<Role, Record<Role, boolean>> = {
  client: { client: true, "non-client": true, ebgp: true },
  "non-client": { client: true, "non-client": false, ebgp: true },
  ebgp: { client: true, "non-client": true, ebgp: true },
};

const PATH: PathAttributes = {
  origin: "igp",
  asPath: [],
  nextHop: "203.0.113.7",
  med: 20,
  localPref: 150,
  communities: ["64512:1"],
  largeCommunities: ["64512:1:2"],
  unknown: [
    { code: 222, flags: 0xc0, value: Buffer.from("ABCD", "hex") },
    { code: 223, flags: 0x80, value: Buffer.from("01", "hex") },
  ],
};
const TO_CLIENT = { role: "client" as const, localAs: 64512, clusterId: "203.0.113.254", asn4: true };

describe("reflection matrix (RFC 4456 §6)", () => {
  for (const from of ROLES) {
    for (const to of ROLES) {
      const yes = MATRIX[from][to];
      it(`a path from ${from === "ebgp" ? "an eBGP peer" : `a ${from}`} ${yes ? "goes" : "does not go"} to ${to === "ebgp" ? "an eBGP peer" : `a ${to}`}`, () => {
        expect(mayAdvertise(from, to)).toBe(yes);
      });
    }
  }
  it("with client-to-client reflection off, client paths go to non-clients only", () => {
    expect([mayAdvertise("client", "client", false), mayAdvertise("client", "non-client", false)]).toEqual([
      false,
      true,
    ]);
  });
});

describe("loops (RFC 4456 §8, RFC 4271 §9.1.2)", () => {
  const self = { clusterId: "203.0.113.254", routerId: "203.0.113.1", localAs: 64512 };
  const path = (...asns: number[]) => ({ asPath: [{ type: "AS_SEQUENCE" as const, asns }] });

  it("our cluster ID in CLUSTER_LIST, or our router ID as ORIGINATOR_ID, makes a path ineligible", () => {
    expect(isLooped({ clusterList: ["198.51.100.9", "203.0.113.254"] }, self)).toBe(true);
    expect(isLooped({ originatorId: "203.0.113.1" }, self)).toBe(true);
    expect(isLooped({ originatorId: "198.51.100.1", clusterList: ["198.51.100.9"] }, self)).toBe(false);
  });

  it("our AS in the AS_PATH, in a sequence or a set, more often than allowed", () => {
    expect(isLooped(path(65099, 64512), self)).toBe(true);
    expect(isLooped({ asPath: [{ type: "AS_SET", asns: [65001, 64512] }] }, self)).toBe(true);
    expect(isLooped(path(65099, 65098), self)).toBe(false);
    expect(isLooped(path(65099, 64512), { ...self, allowLocalAs: 1 })).toBe(false);
    expect(isLooped(path(64512, 65099, 64512), { ...self, allowLocalAs: 1 })).toBe(true);
    // the AS of the session, not another one of ours
    expect(isLooped(path(65099, 64512), { ...self, localAs: 64600 })).toBe(false);
  });
});

describe("outbound attributes", () => {
  it("reflection sets ORIGINATOR_ID to the originating peer and prepends our cluster ID; the rest passes unchanged", () => {
    const out = outboundAttributes(PATH, { role: "client", routerId: "203.0.113.7" }, TO_CLIENT);
    expect(out).toMatchObject({
      nextHop: "203.0.113.7",
      med: 20,
      localPref: 150,
      communities: ["64512:1"],
      largeCommunities: ["64512:1:2"],
      originatorId: "203.0.113.7",
      clusterList: ["203.0.113.254"],
    });
    // Unknown transitive: passed with the Partial bit. Unknown non-transitive: dropped.
    expect(out.unknown).toEqual([{ code: 222, flags: 0xe0, value: Buffer.from("ABCD", "hex") }]);
  });

  it("an existing ORIGINATOR_ID is kept and our cluster ID goes in front of the CLUSTER_LIST", () => {
    const out = outboundAttributes(
      { ...PATH, originatorId: "198.51.100.1", clusterList: ["198.51.100.9"] },
      { role: "non-client", routerId: "203.0.113.8" },
      TO_CLIENT,
    );
    expect([out.originatorId, out.clusterList]).toEqual(["198.51.100.1", ["203.0.113.254", "198.51.100.9"]]);
  });

  it("to eBGP: our AS prepended, no LOCAL_PREF, ORIGINATOR_ID or CLUSTER_LIST, NEXT_HOP left as it is", () => {
    const out = outboundAttributes(
      {
        ...PATH,
        originatorId: "198.51.100.1",
        clusterList: ["198.51.100.9"],
        asPath: [{ type: "AS_SEQUENCE", asns: [64512] }],
      },
      { role: "client", routerId: "203.0.113.7" },
      { ...TO_CLIENT, role: "ebgp" },
    );
    expect(out.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [64512, 64512] }]);
    expect([out.localPref, out.originatorId, out.clusterList, out.nextHop, out.med]).toEqual([
      undefined,
      undefined,
      undefined,
      "203.0.113.7",
      20,
    ]);
  });

  it("eBGP to eBGP drops the MED; eBGP to iBGP adds LOCAL_PREF 100 and no reflection attributes", () => {
    const fromEbgp = { role: "ebgp" as const, routerId: "198.51.100.1" };
    const { localPref, ...noLp } = PATH;
    expect(outboundAttributes(PATH, fromEbgp, { ...TO_CLIENT, role: "ebgp" }).med).toBeUndefined();
    const toIbgp = outboundAttributes(noLp, fromEbgp, TO_CLIENT);
    expect([toIbgp.localPref, toIbgp.originatorId, toIbgp.clusterList]).toEqual([100, undefined, undefined]);
  });

  it("a reflected path without LOCAL_PREF gets 100: every UPDATE to an internal peer carries one (RFC 4271 §5.1.5)", () => {
    const { localPref, ...noLp } = PATH;
    const out = outboundAttributes(noLp, { role: "client", routerId: "203.0.113.7" }, TO_CLIENT);
    expect(out.localPref).toBe(100);
    expect(Object.keys(out).indexOf("localPref")).toBeGreaterThan(Object.keys(out).indexOf("nextHop"));
  });

  it("next-hop-self replaces the NEXT_HOP only where configured", () => {
    const out = outboundAttributes(
      PATH,
      { role: "client", routerId: "203.0.113.7" },
      { ...TO_CLIENT, nextHopSelf: "203.0.113.1" },
    );
    expect(out.nextHop).toBe("203.0.113.1");
  });

  it("to a 2-octet peer, 4-octet ASNs become AS_TRANS with AS4_PATH (RFC 6793 §4.2.2)", () => {
    const out = outboundAttributes(
      { ...PATH, asPath: [{ type: "AS_SEQUENCE", asns: [4200000001, 65001] }] },
      { role: "ebgp", routerId: "198.51.100.1" },
      { ...TO_CLIENT, asn4: false },
    );
    expect(out.asPath).toEqual([{ type: "AS_SEQUENCE", asns: [23456, 65001] }]);
    expect(out.as4Path).toEqual([{ type: "AS_SEQUENCE", asns: [4200000001, 65001] }]);
  });

  it("paths from a 2-octet peer are reconciled before use (RFC 6793 §4.2.3)", () => {
    const wire: PathAttributes = {
      origin: "igp",
      asPath: [{ type: "AS_SEQUENCE", asns: [65000, 23456] }],
      as4Path: [{ type: "AS_SEQUENCE", asns: [65000, 400000] }],
    };
    expect(inboundAttributes(wire, false)).toEqual({
      origin: "igp",
      asPath: [{ type: "AS_SEQUENCE", asns: [65000, 400000] }],
    });
  });

  it("sends MP_REACH_NLRI first and the rest by type code (RFC 7606 §5.1, RFC 4271 §5)", () => {
    const out = outboundAttributes(
      {
        largeCommunities: ["1:2:3"],
        origin: "igp",
        mpReach: { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::1"], nlri: [] },
        asPath: [],
      },
      { role: "client", routerId: "203.0.113.7" },
      TO_CLIENT,
    );
    expect(Object.keys(out)).toEqual([
      "mpReach",
      "origin",
      "asPath",
      "localPref",
      "originatorId",
      "clusterList",
      "largeCommunities",
    ]);
  });
});
