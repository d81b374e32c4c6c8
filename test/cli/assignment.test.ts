// `routereflector assignment` on a datastore file: the reflectors are the Calico Nodes with a
// routeReflectorClusterID, their zones a label; what --without and --with would move.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { workdir } from "../helpers/lab.js";

const dir = workdir("assignment");
const file = join(dir, "calico.yaml");
const ZONES = ["zone-a", "zone-b", "zone-c", "zone-a"];
writeFileSync(
  file,
  [
    ...ZONES.map(
      (z, i) =>
        `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: rr-${i}, labels: {topology.kubernetes.io/zone: ${z}, rack: r${i}}}\nspec: {bgp: {ipv4Address: 100.64.1.${i + 1}/24, routeReflectorClusterID: 224.0.0.1}}`,
    ),
    ...Array.from(
      { length: 40 },
      (_, i) =>
        `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: node-${i}}\nspec: {bgp: {ipv4Address: 100.64.2.${i + 1}/24}}`,
    ),
  ].join("\n---\n"),
);

interface Json {
  perNode: number;
  capacity: number;
  reflectors: { name: string; zone?: string; nodes: number }[];
  nodes: Record<string, string[]>;
  moved?: { nodes: string[]; slots: number };
}
const plan = (...args: string[]): Json => {
  const r = runCli(["assignment", "--datastore-file", file, "--ip", "100.64.1.1", "--json", ...args]);
  expect([r.status, r.stderr]).toEqual([0, ""]);
  return JSON.parse(r.stdout) as Json;
};

describe("routereflector assignment", () => {
  it("gives every client node R reflectors in different zones, none above the capacity", () => {
    const p = plan("--slack", "2");
    expect(p.reflectors.map((r) => [r.name, r.zone])).toEqual(ZONES.map((z, i) => [`rr-${i}`, z]));
    expect(Object.keys(p.nodes)).toHaveLength(40);
    expect(p.capacity).toBe(Math.ceil((40 * 2) / 4) + 2);
    // two zones, but for a node whose other zones' reflectors were full (zone-b and zone-c have
    // one reflector each)
    const full = new Set(p.reflectors.filter((r) => r.nodes === p.capacity).map((r) => r.name));
    for (const rs of Object.values(p.nodes)) {
      expect(rs).toHaveLength(2);
      const zones = rs.map((r) => ZONES[Number(r.slice(3))]);
      if (zones[0] === zones[1])
        for (const r of p.reflectors.filter((x) => !zones.includes(x.zone)))
          expect(full.has(r.name)).toBe(true);
    }
    // with room enough in zone-b and zone-c, every node is in two zones
    for (const rs of Object.values(plan("--slack", "10").nodes))
      expect(new Set(rs.map((r) => ZONES[Number(r.slice(3))])).size).toBe(2);
    for (const r of p.reflectors) expect(r.nodes).toBeLessThanOrEqual(p.capacity);
    // three reflectors each: R from --per-node; another label for zones
    const three = plan("--per-node", "3", "--zone-label", "rack", "--slack", "40");
    for (const rs of Object.values(three.nodes)) expect(new Set(rs).size).toBe(3);
  });

  it("--without shows the nodes a reflector's removal moves, only those it had; --with adds one, which takes its share", () => {
    // the run's ASSIGN_SLACK (2) unless --slack says otherwise
    const before = plan();
    expect(before).toEqual(plan("--slack", "2"));
    const had = Object.entries(before.nodes)
      .filter(([, rs]) => rs.includes("rr-0"))
      .map(([n]) => n)
      .sort();
    const without = plan("--without", "rr-0");
    expect(without.moved).toEqual({ nodes: had, slots: had.length });
    expect(without.reflectors.map((r) => r.name)).toEqual(["rr-1", "rr-2", "rr-3"]);
    const withNew = plan("--with", "rr-9:zone-b");
    expect(withNew.reflectors.at(-1)).toMatchObject({ name: "rr-9", zone: "zone-b" });
    const gained = Object.entries(withNew.nodes).filter(([, rs]) => rs.includes("rr-9")).length;
    expect(gained).toBeGreaterThanOrEqual(Math.floor((40 * 2) / 5) - 2);
    expect(withNew.moved?.slots).toBe(gained);
    expect(withNew.moved?.nodes).toHaveLength(gained);
    // as text: the tables and the moves
    const text = runCli(["assignment", "--datastore-file", file, "--ip", "100.64.1.1", "--without", "rr-0"]);
    expect(text.stdout).toMatch(/^3 reflectors, 2 per node, \d+ to \d+ nodes each/m);
    expect(text.stdout).toMatch(new RegExp(`^The change would move ${had.length} of 40 nodes`, "m"));
  });

  it.each([
    [["--per-node", "0"], /--per-node: not a whole number from 1/],
    [["--slack=-1"], /--slack: not a whole number from 0/],
    [["--without", "node-1"], /--without: node-1 is not a reflector/],
    [["--bogus"], /--bogus: unknown option/],
  ])("refuses %j with exit code 2", (args, message) => {
    const r = runCli(["assignment", "--datastore-file", file, "--ip", "100.64.1.1", ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("--help", () => {
    const r = runCli(["assignment", "--help"]);
    expect([r.status, r.stdout]).toEqual([0, expect.stringMatching(/^usage: routereflector assignment/)]);
  });
});
