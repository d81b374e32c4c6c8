// BGPFilter resources: every filter of Calico's own rendering tests loads, and the port of
// confd's renderer the interop tests run BIRD with writes exactly what confd wrote for them.
// Invalid rules are refused with the field that is wrong.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type BgpFilterResource, parseResource, ResourceError } from "../../src/datastore/resources.js";
import { type RawFilter, renderFilters } from "../helpers/confd-filters.js";

const DIR = join(new URL(".", import.meta.url).pathname, "../fixtures/calico-bgpfilter");
const CASES = readdirSync(DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

const filtersOf = (c: string): RawFilter[] =>
  parseAllDocuments(readFileSync(join(DIR, c, "filters.yaml"), "utf8")).map((d) => d.toJS() as RawFilter);

describe("Calico's BGPFilter test cases", () => {
  it("are all here", () => {
    expect(CASES.length).toBe(22);
  });

  it.each(CASES)("%s: confd's rendering, ported, writes what confd wrote", (c) => {
    const filters = filtersOf(c);
    for (const [version, file] of [
      [4, "bird.functions"],
      [6, "bird6.functions"],
    ] as const) {
      const expected = readFileSync(join(DIR, c, file), "utf8").trimEnd();
      expect(renderFilters(filters, version).join("\n")).toBe(expected);
    }
  });

  it.each(CASES)("%s: every filter loads, with each rule where confd put it", (c) => {
    for (const raw of filtersOf(c)) {
      const f = parseResource(raw, `bgpfilters/${raw.metadata.name}`) as BgpFilterResource;
      expect(f.kind).toBe("BGPFilter");
      for (const list of ["importV4", "exportV4", "importV6", "exportV6"] as const) {
        expect(f[list].length).toBe(raw.spec[list]?.length ?? 0);
        f[list].forEach((rule, i) => {
          const r = raw.spec[list]?.[i] as Record<string, unknown>;
          expect(rule.action).toBe(r.action);
          expect(rule.cidr?.operator).toBe(r.matchOperator);
          expect(rule.interface).toBe(r.interface);
          expect(rule.peerType).toBe(r.peerType);
          expect(rule.operations.length).toBe((r.operations as unknown[] | undefined)?.length ?? 0);
        });
      }
    }
  });
});

describe("BGPFilter validation", () => {
  const filter = (rule: object, list = "importV4") => ({
    apiVersion: "projectcalico.org/v3",
    kind: "BGPFilter",
    metadata: { name: "f" },
    spec: { [list]: [rule] },
  });
  const error = (rule: object, list?: string): string => {
    try {
      parseResource(filter(rule, list), "bgpfilters/f");
    } catch (e) {
      if (e instanceof ResourceError) return `${e.field}: ${e.reason}`;
      throw e;
    }
    return "no error";
  };

  it("refuses what Calico refuses, naming the field", () => {
    expect(error({ cidr: "198.18.0.0/16" })).toBe("spec.importV4[0].action: required (Accept or Reject)");
    expect(error({ action: "Accept", cidr: "198.18.0.0/16" })).toMatch(
      /^spec\.importV4\[0\]\.matchOperator: cidr and matchOperator must both be set/,
    );
    expect(error({ action: "Accept", matchOperator: "In" })).toMatch(/^spec\.importV4\[0\]\.cidr: cidr and/);
    expect(error({ action: "Accept", cidr: "2001:db8::/32", matchOperator: "In" })).toBe(
      'spec.importV4[0].cidr: not an IPv4 CIDR: "2001:db8::/32"',
    );
    expect(error({ action: "Accept", cidr: "198.18.0.0/16", matchOperator: "In" }, "exportV6")).toBe(
      'spec.exportV6[0].cidr: not an IPv6 CIDR: "198.18.0.0/16"',
    );
    expect(error({ action: "Accept", prefixLength: { min: 24 } })).toBe(
      "spec.importV4[0].prefixLength: cidr is required when prefixLength is set",
    );
    expect(error({ action: "Reject", operations: [{ setPriority: { value: 5 } }] })).toBe(
      "spec.importV4[0].operations: may only be used with action Accept",
    );
    expect(
      error({
        action: "Accept",
        operations: [{ setPriority: { value: 5 }, addCommunity: { value: "1:2" } }],
      }),
    ).toBe("spec.importV4[0].operations[0]: exactly one of addCommunity, prependASPath or setPriority");
    expect(error({ action: "Accept", communities: { values: ["65536:1"] } })).toMatch(
      /^spec\.importV4\[0\]\.communities\.values\[0\]: not a community/,
    );
    expect(error({ action: "Accept", communities: { values: ["1:2", "3:4"] } })).toBe(
      "spec.importV4[0].communities.values: exactly one value",
    );
    expect(error({ action: "Accept", priority: 0 })).toMatch(
      /^spec\.importV4\[0\]\.priority: not an integer from 1/,
    );
    expect(error({ action: "Accept", peerType: "ibgp" })).toMatch(
      /^spec\.importV4\[0\]\.peerType: "ibgp" is not one of/,
    );
    expect(error({ action: "Accept", asPathPrefix: ["x"] })).toBe(
      'spec.importV4[0].asPathPrefix[0]: not an AS number: "x"',
    );
  });

  it("takes a prefix length range from the longer of the CIDR's length and min, and refuses an empty one", () => {
    const f = parseResource(
      filter({
        action: "Accept",
        cidr: "198.18.0.0/16",
        matchOperator: "In",
        prefixLength: { min: 8, max: 24 },
      }),
      "k",
    ) as BgpFilterResource;
    expect(f.importV4[0]?.cidr).toEqual({
      prefix: "198.18.0.0/16",
      operator: "In",
      lengths: { min: 16, max: 24 },
    });
    expect(
      error({ action: "Accept", cidr: "198.18.0.0/24", matchOperator: "In", prefixLength: { max: 20 } }),
    ).toBe("spec.importV4[0].prefixLength: no length from 24 to 20 (BIRD refuses such a set)");
    // confd writes `net = [ set ]`, which BIRD cannot evaluate
    expect(
      error({ action: "Accept", cidr: "198.18.0.0/16", matchOperator: "Equal", prefixLength: { max: 24 } }),
    ).toBe("spec.importV4[0].prefixLength: cannot be used with matchOperator Equal, only In and NotIn");
  });
});
