// Benchmark plumbing: timing, the machine and versions a result was measured on, and writing
// results to bench/results/.
import { execSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: the nearest folder above this file with a package.json (also when compiled to build/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

export const RESULTS_DIR = resolve(repoRoot(), "bench/results");

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  commit: string;
  date: string;
}

export function machine(): Machine {
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {}
  return {
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    commit,
    date: new Date().toISOString(),
  };
}

/**
 * Calls per second of `fn`: after a warm-up, five rounds of `ms / 5` milliseconds each, and the
 * median round (runs on this machine vary by a quarter from GC and JIT timing).
 */
export function rate(fn: () => void, ms = 2500): number {
  const warm = performance.now();
  while (performance.now() - warm < ms / 5) fn();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    let calls = 0;
    const start = performance.now();
    let now = start;
    while (now - start < ms / 5) {
      fn();
      calls++;
      now = performance.now();
    }
    rounds.push((calls * 1000) / (now - start));
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

export function writeResult(name: string, result: object): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = resolve(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
