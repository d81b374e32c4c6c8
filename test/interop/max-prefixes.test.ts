// Maximum prefixes from configuration, end to end: the built CLI with MAX_PREFIXES, and a BGPPeer
// annotation that raises the limit for one peer; BIRD 2 clients. A peer over its limit gets Cease /
// Maximum Number of Prefixes Reached (RFC 4486) and stays damped; the others keep their sessions
// and routes. Addresses 127.0.47.x.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { Daemon, runCli } from "../helpers/cli.js";
import { startBird, waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const RR = "127.0.47.1";
const HTTP = `${RR}:9179`;
const [A, B, C] = ["127.0.47.2", "127.0.47.3", "127.0.47.4"];

const node = (name: string, ip: string, labels = "{}") =>
  `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}, labels: ${labels}}\nspec: {bgp: {ipv4Address: ${ip}/32}}`;
const YAML = [
  "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {nodeToNodeMeshEnabled: false}",
  `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: small}\nspec: {nodeSelector: "!has(big)", peerIP: ${RR}, asNumber: 64512}`,
  // big nodes may send up to 10 prefixes
  `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: big, annotations: {routereflector/max-prefixes: "10"}}\nspec: {nodeSelector: has(big), peerIP: ${RR}, asNumber: 64512}`,
  node("a", A),
  node("b", B),
  node("c", C, '{big: ""}'),
].join("\n---\n");

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

const status = () => runCli(["status", "--http", HTTP]).stdout;

it("MAX_PREFIXES resets a peer over the limit; the annotation raises it for one peer", async (ctx) => {
  reliability(ctx, {
    scenario: "Maximum prefixes",
    load: "three BIRD 2 clients",
    fault: "a client sends more prefixes than MAX_PREFIXES allows",
    checked:
      "Cease / Maximum Number of Prefixes Reached, damped; none of its routes reach the others; the annotation's higher limit for one peer",
  });
  const file = join(workdir("max-prefixes"), "calico.yaml");
  writeFileSync(file, YAML);
  const rr = new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: HTTP, MAX_PREFIXES: "2" });
  cleanup.push(() => rr.stop("SIGKILL"));
  const peer = { addr: RR, port: 179, asn: 64512 };
  const routes = (third: number, n: number) =>
    Array.from({ length: n }, (_, i) => `198.18.${third + i}.0/24`);
  const a = await startBird("maxp-a", { addr: A, peer, routes: routes(60, 3) }); // over 2
  const b = await startBird("maxp-b", { addr: B, peer, routes: routes(70, 2) }); // at 2
  const c = await startBird("maxp-c", { addr: C, peer, routes: routes(80, 5) }); // under its 10
  cleanup.push(
    () => a.stop(),
    () => b.stop(),
    () => c.stop(),
  );
  await waitFor(() => a.log().includes("Maximum number of prefixes reached"), 30_000, "A told why");
  await waitFor(() => /\| 127\.0\.47\.3 .*Established +\| 2 +\| 5 +\|/.test(status()), 30_000, "B's table");
  const s = status();
  // B is advertised C's 5 and C is advertised B's 2 (their own come back, not counted); A's never stay
  expect(s).toMatch(/\| 127\.0\.47\.4 .*Established +\| 5 +\| 2 +\|/);
  // A comes back after its IdleHold wait and is reset again (damped: the wait doubles)
  await waitFor(
    () => /\| 127\.0\.47\.2 .*Idle: more than 2 ipv4 prefixes/.test(status()),
    30_000,
    "A's status",
  );
  // The log line comes through the reflector's stdout, which may trail its status.
  const sent = () => rr.lines.filter((l) => l.msg === "NOTIFICATION sent" && l.peer === A);
  await waitFor(() => sent().length > 0, 10_000, "the NOTIFICATION's log line");
  expect(JSON.stringify(sent()[0])).toContain("Maximum Number of Prefixes Reached");
  // none of A's routes reached B
  expect(b.birdc("show", "route", "count")).toMatch(/7 of 7 routes/);
  expect(b.birdc("show", "route")).not.toMatch(/198\.18\.6\d\.0\/24/);
}, 90_000);
