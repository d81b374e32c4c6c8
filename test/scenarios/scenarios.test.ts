// Scenario replays (as holo's conformance topologies): each test/scenarios/<name>/ holds the
// configuration (config.txt), the events in (events.txt) and the expected outputs
// (expected.txt), replayed against the engine with a fake clock (test/helpers/replay.ts).
// UPDATE_SCENARIOS=1 writes what a replay gives into expected.txt, to be read and checked by
// hand against the RFCs before it is committed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replay } from "../helpers/replay.js";

const DIR = new URL(".", import.meta.url).pathname;
const scenarios = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe("scenario replays", () => {
  it("finds the scenarios", () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(10);
  });
  for (const name of scenarios) {
    it(name, () => {
      const dir = join(DIR, name);
      const read = (f: string) => readFileSync(join(dir, f), "utf8");
      const got = replay(read("config.txt"), read("events.txt"));
      const expectedFile = join(dir, "expected.txt");
      if (process.env.UPDATE_SCENARIOS || !existsSync(expectedFile))
        writeFileSync(expectedFile, `${got.join("\n")}\n`);
      expect(got).toEqual(read("expected.txt").trimEnd().split("\n"));
    });
  }
});
