// RFC 4271 §6.8 collision resolution, every case of the rule: one row per pair of states, both
// identifier orders, each connection opened by either side.
import { describe, expect, it } from "vitest";
import { type Contender, collisionLoser } from "../../src/fsm/index.js";

const LOW = "203.0.113.1";
const HIGH = "203.0.113.200";
const c = (state: Contender["state"], outbound: boolean): Contender => ({ state, outbound });

describe("connection collision resolution (RFC 4271 §6.8)", () => {
  it("against an Established session the new connection goes, whatever the identifiers", () => {
    for (const [local, peer] of [
      [LOW, HIGH],
      [HIGH, LOW],
    ] as const) {
      expect(collisionLoser(c("Established", true), c("OpenSent", false), local, peer)).toBe("rival");
      expect(collisionLoser(c("Established", false), c("OpenConfirm", true), local, peer)).toBe("rival");
    }
  });

  it.each([
    // local id, the connection we opened is main or rival, which survives
    [HIGH, "main", "main"],
    [HIGH, "rival", "rival"],
    [LOW, "main", "rival"],
    [LOW, "rival", "main"],
  ] as const)("local %s, ours is %s: the connection the higher identifier opened stays (%s)", (local, ours, stays) => {
    const peer = local === HIGH ? LOW : HIGH;
    for (const [a, b] of [
      ["OpenSent", "OpenConfirm"],
      ["OpenConfirm", "OpenSent"],
      ["OpenConfirm", "OpenConfirm"],
      ["OpenSent", "OpenSent"],
    ] as const) {
      const main = c(a, ours === "main");
      const rival = c(b, ours === "rival");
      expect(collisionLoser(main, rival, local, peer)).toBe(stays === "main" ? "rival" : "main");
    }
  });

  it("compares identifiers as unsigned numbers, not as text", () => {
    // "100.64.0.9" > "100.64.0.10" as text; as numbers it is the lower
    expect(collisionLoser(c("OpenConfirm", true), c("OpenConfirm", false), "100.64.0.9", "100.64.0.10")).toBe(
      "main",
    );
    expect(collisionLoser(c("OpenConfirm", true), c("OpenConfirm", false), "255.0.0.1", "1.0.0.1")).toBe(
      "rival",
    );
  });

  it("decides nothing before the peer's identifier is known, or while a connection is not yet open", () => {
    expect(collisionLoser(c("OpenSent", true), c("OpenSent", false), LOW, undefined)).toBeUndefined();
    expect(collisionLoser(c("Connect", true), c("OpenSent", false), LOW, HIGH)).toBeUndefined();
    expect(collisionLoser(c("OpenConfirm", true), c("Active", false), LOW, HIGH)).toBeUndefined();
  });
});
