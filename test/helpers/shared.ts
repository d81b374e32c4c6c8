// Paths to the shared/ folder (see bench/lib/shared.ts for where it is looked for).
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sharedDir } from "../../bench/lib/shared.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SHARED = sharedDir();

export function sharedPath(...parts: string[]): string {
  const p = resolve(SHARED, ...parts);
  if (!existsSync(p))
    throw new Error(`missing ${p}: the shared/ folder must sit beside the repository (or set SHARED_DIR)`);
  return p;
}

export interface Vector {
  id: string;
  hex: string;
  type: string;
  valid: boolean;
  context?: Record<string, unknown>;
  // biome-ignore lint/suspicious/noExplicitAny: expectations are free-form JSON
  expect: Record<string, any>;
}

export function loadVectors(): Vector[] {
  return readFileSync(sharedPath("vectors", "bgp-vectors.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Vector);
}
