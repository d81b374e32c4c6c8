// docs/configuration.md lists every variable with its flag and default, as the program has them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { VARIABLES } from "../../src/cli/config.js";
import { REPO_ROOT } from "../helpers/shared.js";

it("the configuration reference has a row per variable, matching the program", () => {
  const doc = readFileSync(join(REPO_ROOT, "docs/configuration.md"), "utf8");
  const rows = doc.split("\n").filter((l) => /^\| `[A-Z0-9_]+` \|/.test(l));
  expect(rows).toEqual(
    VARIABLES.map(([n, f, d, w]) => `| \`${n}\` | \`${f}\` | ${d ? d : "unset"} | ${w} |`),
  );
});
