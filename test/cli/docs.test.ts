// docs/configuration.md lists every variable with its flag and default, as the program has them;
// the Dockerfile declares every one.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { VARIABLES } from "../../src/daemon/index.js";
import { REPO_ROOT } from "../helpers/shared.js";

it("the configuration reference has a row per variable, matching the program", () => {
  const doc = readFileSync(join(REPO_ROOT, "docs/configuration.md"), "utf8");
  const rows = doc.split("\n").filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));
  expect(rows).toEqual(
    VARIABLES.map(([n, f, d, w]) => `| \`${n}\` | \`${f}\` | ${d ? d : "unset"} | ${w} |`),
  );
});

it("the image declares every variable", () => {
  const dockerfile = readFileSync(join(REPO_ROOT, "Dockerfile"), "utf8");
  const declared = [...dockerfile.matchAll(/^\s*(?:ENV )?([A-Z0-9_]+)="" \\$/gm)].map((m) => m[1]);
  expect(declared.sort()).toEqual(VARIABLES.map(([n]) => n).sort());
});

it("docs/reliability.md names no path of the machine it was written on", () => {
  const doc = readFileSync(join(REPO_ROOT, "docs/reliability.md"), "utf8");
  // test files by their path in the repository; no absolute or escaping paths, no temporary dirs
  expect(doc).not.toMatch(/\.\.\/|\/work\/|\/tmp\/|\/root\/|\/home\//);
  expect([...doc.matchAll(/(\S+\.test\.ts):/g)].every((m) => m[1]!.startsWith("test/"))).toBe(true);
});
