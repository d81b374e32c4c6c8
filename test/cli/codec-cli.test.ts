// `routereflector decode` / `encode` as a user runs them.
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { loadVectors } from "../helpers/shared.js";

const vectors = loadVectors();
const hexOf = (id: string) => vectors.find((v) => v.id === id)!.hex;

describe("routereflector decode", () => {
  it("prints one JSON object per message, for several messages in one argument", () => {
    const r = runCli(["decode", hexOf("holo-keepalive-1") + hexOf("holo-open-3")]);
    expect(r.status).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(["KEEPALIVE", "OPEN"]);
    expect(lines[1].capabilities).toHaveLength(5);
  });

  it("prints a malformed UPDATE as JSON with its RFC 7606 outcome", () => {
    const r = runCli(["decode", hexOf("gobgp-malformed-mp-reach-nexthop-len"), "--asn2"]);
    const out = JSON.parse(r.stdout);
    expect(out.error).toMatchObject({ action: "afi-safi-disable", code: 3, subcode: 9, afi: 2, safi: 1 });
    const withdraw = JSON.parse(runCli(["decode", hexOf("rusty-missing-origin")]).stdout);
    expect(withdraw.error.action).toBe("treat-as-withdraw");
    expect(withdraw.error.code).toBeUndefined();
  });

  it("honours --addpath and reports a NOTIFICATION's meaning", () => {
    const ap = JSON.parse(runCli(["decode", "--addpath", "ipv4", hexOf("exabgp-enc-addpath-ipv4")]).stdout);
    // The vector's own expectation: ExaBGP's path identifier and prefix.
    const want = vectors.find((v) => v.id === "exabgp-enc-addpath-ipv4")!.expect.nlri as {
      path_id: number;
      prefix: string;
    }[];
    expect(ap.nlri).toEqual(want.map((n) => ({ pathId: n.path_id, prefix: n.prefix })));
    const n = JSON.parse(runCli(["decode", hexOf("exabgp-notification-shutdown-communication")]).stdout);
    expect(n).toMatchObject({
      description: "Cease / Administrative Shutdown",
      shutdownCommunication: "Maintenance scheduled",
    });
  });

  it("reads hex from stdin, one message per line, and reports a truncated one", () => {
    const r = runCli(["decode"], `${hexOf("holo-keepalive-1")}\n${hexOf("holo-open-1").slice(0, 50)}\n`);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0].type).toBe("KEEPALIVE");
    expect(lines[1].error.reason).toMatch(/incomplete/);
  });

  it("rejects what is not hex, and unknown options, with exit code 2", () => {
    expect(runCli(["decode", "xyz"])).toMatchObject({ status: 2, stderr: expect.stringMatching(/not hex/) });
    expect(runCli(["decode", "--addpath", "ipv5", "00"]).stderr).toMatch(/unknown family ipv5/);
    expect(runCli(["frobnicate"]).status).toBe(2);
  });
});

describe("routereflector encode", () => {
  it("encodes what decode printed back to the same bytes, for every valid vector", () => {
    const valid = vectors.filter(
      (v) =>
        v.valid &&
        v.context?.asn4 !== false &&
        !(v.context?.addpath_rx as string[] | undefined)?.length &&
        !v.context?.extended_message &&
        !v.context?.ebgp &&
        !["exabgp-enc-ipv6-nlri-ipv4-nexthop", "rusty-as4-path-from-new-speaker"].includes(v.id),
    );
    const decoded = runCli(["decode", ...valid.map((v) => v.hex)]);
    const encoded = runCli(["encode"], decoded.stdout);
    expect(encoded.stderr).toBe("");
    expect(encoded.stdout.trim().split("\n")).toEqual(valid.map((v) => v.hex.toUpperCase()));
  });

  it("an unknown attribute is valueHex in JSON, both ways", () => {
    const line = JSON.stringify({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [],
        nextHop: "203.0.113.1",
        unknown: [{ code: 99, flags: 0xe0, valueHex: "ABCD" }],
      },
      nlri: ["198.18.0.0/24"],
    });
    const hex = runCli(["encode"], `${line}\n`).stdout.trim();
    expect(hex).toContain("E06302ABCD");
    const back = JSON.parse(runCli(["decode", hex]).stdout);
    expect(back.attributes.unknown).toEqual([{ code: 99, flags: 0xe0, valueHex: "ABCD" }]);
    const bad = runCli(["encode"], `${line.replace("ABCD", "ABC")}\n`);
    expect(bad.stderr).toMatch(/line 1: bad hex in attribute 99/);
  });

  it("names the line and the problem for input it cannot encode, and exits 1", () => {
    const r = runCli(
      ["encode"],
      '{"type":"KEEPALIVE"}\n{"type":"UPDATE","withdrawn":["198.18.0.0/33"],"attributes":{},"nlri":[]}\nnot json\n',
    );
    expect(r.status).toBe(1);
    expect(r.stdout.trim()).toBe("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF001304");
    expect(r.stderr).toMatch(/line 2: bad prefix length/);
    expect(r.stderr).toMatch(/line 3: /);
  });
});
