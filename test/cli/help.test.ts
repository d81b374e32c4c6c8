// Every command says how it is used with --help, and refuses what it cannot take with a message
// (and exit status 2), without a stack trace; the load benchmark's --help too.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { REPO_ROOT } from "../helpers/shared.js";

describe("--help and bad arguments", () => {
  it.each([
    [["--help"], /^usage: routereflector \[command\]/],
    [["run", "--help"], /^usage: routereflector \[run\]/],
    [["status", "--help"], /^usage: routereflector status/],
    [["routes", "--help"], /routereflector routes \[PREFIX \| ADDRESS\]/],
    [["config", "check", "--help"], /^usage: routereflector config check/],
    [["why", "--help"], /routereflector why PREFIX --peer ADDR/],
    [["refresh", "--help"], /routereflector refresh PEER/],
    [["decode", "--help"], /^usage: routereflector decode/],
    [["encode", "--help"], /routereflector encode/],
  ])("%j prints its usage and exits 0", (args, usage) => {
    const r = runCli(args);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(usage);
  });

  it.each([
    [["routes", "garbage"], 'routereflector: not a prefix or an address: "garbage"'],
    [["routes", "198.18.0.0/33"], 'routereflector: not a prefix or an address: "198.18.0.0/33"'],
    [["routes", "--peer", "nobody"], 'routereflector: --peer: not an address: "nobody"'],
    [["status", "extra"], 'routereflector: not an address: "extra"'],
    [["status", "127.0.0.2", "127.0.0.3"], 'routereflector: status takes one PEER at most: "127.0.0.3"'],
    [["why", "198.18.0.0/24"], "routereflector: usage: routereflector why PREFIX --peer ADDR"],
    [["why", "nope", "--peer", "127.0.0.2"], 'routereflector: not a prefix: "nope"'],
    [["refresh"], "routereflector: usage: routereflector refresh PEER"],
    [["status", "--nope"], "routereflector: Unknown option '--nope'"],
    [["frobnicate"], 'routereflector: unknown command "frobnicate"'],
  ])("%j is refused with a message, exit 2, no stack", (args, message) => {
    const r = runCli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("the load benchmark's --help, and a bad option without a stack trace", () => {
    const bench = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "bench/load.ts"), ...args], {
        encoding: "utf8",
        cwd: REPO_ROOT,
        timeout: 60_000,
      });
    const help = bench("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: node dist-bench\/bench\/load\.js/);
    const bad = bench("--frobnicate");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^load: Unknown option '--frobnicate'/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
