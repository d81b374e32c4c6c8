// How `routes` writes a route's age: as BIRD and FRR do, the two largest units.
import { describe, expect, it } from "vitest";
import { age, formatRoutes } from "../../src/cli/control-commands.js";

describe("routes as text", () => {
  it.each([
    [0, "0s"],
    [59_999, "59s"],
    [60_000, "1m00s"],
    [192_000, "3m12s"],
    [3_600_000, "1h00m"],
    [7_500_000, "2h05m"],
    [86_400_000 * 3 + 3_600_000 * 4, "3d04h"],
    [-5, "0s"],
  ])("an age of %i ms is %s", (ms, text) => {
    expect(age(ms)).toBe(text);
  });

  it("each path with its age from when it came", () => {
    const text = formatRoutes(
      [
        {
          prefix: "198.18.0.0/24",
          family: "ipv4",
          paths: [
            {
              peer: "127.0.0.2",
              peerRouterId: "127.0.0.2",
              pathId: 0,
              best: true,
              stale: true,
              learnedAt: "2026-12-01T10:00:00.000Z",
              attributes: { nextHop: "203.0.113.2", asPath: [], origin: "igp" },
            },
          ],
        },
      ],
      Date.parse("2026-12-01T10:03:12.500Z"),
    );
    expect(text).toMatch(/\[best, stale, age 3m12s\]$/m);
  });
});
