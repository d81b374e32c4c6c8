// ADD-PATH as calico/node negotiates it (its bgp_template says `add paths on` for every peering):
// a service address advertised by several nodes reaches every client with each node's path, so
// the clients can spread traffic over them (ECMP), instead of collapsing to the one best path
// behind the reflector. Checked with BIRD 1.6 (the base of calico/node's fork) and BIRD 2 as the
// nodes, through the daemon on a file datastore; ADD_PATHS=1 sends the best path only.
import { afterEach, describe, expect, it } from "vitest";
import { clientsFile, Daemon } from "../helpers/cli.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";

const RR = "127.0.49.1";
const NODES = ["127.0.49.11", "127.0.49.12", "127.0.49.13"];
const SERVICE = "198.18.70.0/24";

let cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The next hops a BIRD client holds for a prefix, from every path it keeps. */
function nextHops(b: Bird, prefix: string): string[] {
  const out = b.birdc("show", "route", prefix, "all");
  return [...out.matchAll(/BGP\.next_hop: (\S+)/g)].map((m) => m[1]!).sort();
}

async function run(addPaths: string | undefined): Promise<{ bird1: string[]; bird2: string[] }> {
  const file = clientsFile(workdir("add-paths"), RR, NODES);
  const rr = new Daemon({ IP: RR, DATASTORE_FILE: file, ...(addPaths ? { ADD_PATHS: addPaths } : {}) });
  cleanup.push(() => rr.stop("SIGKILL"));
  const peer = { addr: RR, port: 179, asn: 64512 };
  // two nodes advertise the service address, with their own next hops; the third only listens
  const birds = await Promise.all([
    startBird("add-paths-a", { addr: NODES[0]!, peer, routes: [SERVICE], addPaths: true, bird1: true }),
    startBird("add-paths-b", { addr: NODES[1]!, peer, routes: [SERVICE], addPaths: true }),
    startBird("add-paths-c", { addr: NODES[2]!, peer, addPaths: true, bird1: true }),
  ]);
  for (const b of birds) cleanup.push(() => b.stop());
  const [, b, c] = birds as [Bird, Bird, Bird];
  const want = addPaths === "1" ? 1 : 2;
  await waitFor(
    () => nextHops(c, SERVICE).length >= want,
    30_000,
    `${want} paths at the listening BIRD 1.6 node`,
  );
  // BIRD 2 (b) holds its own path and a's; BIRD 1.6 (a) its own and b's, as every node would
  await waitFor(() => nextHops(b, SERVICE).length >= 2, 30_000, "a's path at the BIRD 2 node");
  return { bird1: nextHops(c, SERVICE), bird2: nextHops(b, SERVICE).filter((h) => h !== "203.0.113.12") };
}

describe("ADD-PATH on every peering, as calico/node", () => {
  it("a service address advertised by two nodes reaches a BIRD 1.6 and a BIRD 2 node with both paths", async () => {
    const held = await run(undefined);
    expect(held.bird1).toEqual(["203.0.113.11", "203.0.113.12"]);
    expect(held.bird2).toEqual(["203.0.113.11"]);
  }, 90_000);

  it("ADD_PATHS=1 sends the best path only", async () => {
    const held = await run("1");
    // equal paths: the lower router ID (RFC 4271 §9.1.2.2 f) wins, 127.0.49.11
    expect(held.bird1).toEqual(["203.0.113.11"]);
  }, 90_000);
});
