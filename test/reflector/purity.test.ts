// The structure DESIGN.md promises, read from the sources: the routing engine and what it uses
// take time as an argument and touch no socket, timer, clock or randomness; src/bgp imports
// nothing else of ours; the import graph of src has no cycles.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = normalize(join(new URL(".", import.meta.url).pathname, "../../src"));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The files of ours a file imports (relative imports, resolved). */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^(?:import|export)[^;]*?from "(\.[^"]+)"/gms)].map((m) =>
    normalize(join(dirname(file), m[1]!.replace(/\.js$/, ".ts"))),
  );
}

const ALL = files(SRC);
const rel = (f: string) => relative(SRC, f);

/** The engine and everything of ours it reaches, type-only imports included. */
function reach(from: string): Set<string> {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const i of imports(f)) visit(i);
  };
  visit(from);
  return seen;
}

describe("structure", () => {
  it("the engine and what it reaches use no node: module, timer, clock or randomness", () => {
    const reached = [...reach(join(SRC, "reflector/engine.ts"))];
    expect(reached.map(rel)).toEqual(
      expect.arrayContaining(["reflector/engine.ts", "reflector/groups.ts", "rib/loc-rib.ts"]),
    );
    const banned =
      /from "node:|\bsetTimeout\b|\bsetImmediate\b|\bsetInterval\b|Date\.now|performance\.now|Math\.random|process\./;
    // fsm/index.js re-exports the driver: the engine takes types only from it
    const offenders = reached
      .filter((f) => !f.includes("/fsm/"))
      .filter((f) =>
        banned.test(
          readFileSync(f, "utf8")
            .replace(/\/\*[\s\S]*?\*\//g, "")
            .replace(/\/\/.*$/gm, ""),
        ),
      )
      .map(rel);
    expect(offenders).toEqual([]);
    const engineText = readFileSync(join(SRC, "reflector/engine.ts"), "utf8");
    for (const m of engineText.matchAll(/^import (type )?\{[^}]*\} from "\.\.\/fsm\/index\.js";/gm))
      expect(m[1], "the engine imports only types from fsm").toBe("type ");
  });

  it("src/bgp imports nothing else of ours", () => {
    const outside = ALL.filter((f) => rel(f).startsWith("bgp/"))
      .flatMap((f) => imports(f).map((i) => [rel(f), rel(i)] as const))
      .filter(([, i]) => !i.startsWith("bgp/"));
    expect(outside).toEqual([]);
  });

  it("the import graph of src has no cycles", () => {
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const i of imports(f)) visit(i, [...path, f]);
      state.set(f, "done");
    };
    for (const f of ALL) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
