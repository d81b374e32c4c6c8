// Temporary directories for tests: each made under the system's temporary directory with a name
// of its own, and removed by that name when the test process exits.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
process.once("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory of the test's own (rr-NAME-XXXXXX), removed when the test process exits. */
export function workdir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `rr-${name}-`));
  made.push(dir);
  return dir;
}
