// Where the shared/ folder is (vectors, lab scripts): SHARED_DIR if set; else beside this checkout;
// else beside the repository this one was cloned from (a clean clone made elsewhere, as in CI).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { repoRoot } from "./report.js";

let found: string | undefined;

export function sharedDir(): string {
  if (found) return found;
  const root = repoRoot();
  const candidates = [process.env.SHARED_DIR, resolve(root, "../shared")];
  try {
    const origin = execFileSync("git", ["-C", root, "remote", "get-url", "origin"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (existsSync(origin)) candidates.push(resolve(origin, "../shared"));
  } catch {}
  found = candidates.find((c): c is string => c !== undefined && existsSync(c)) ?? resolve(root, "../shared");
  return found;
}
