// An IPv6-only reflector: no IPv4 address, its router ID from CALICO_ROUTER_ID (as calico/node
// takes it), BIRD 2 clients over IPv6 sessions in a network namespace of the test's own (IPv6
// loopback has only ::1). Every client gets the other's route.
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { clientsFile, Daemon } from "../helpers/cli.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";
import { sharedPath } from "../helpers/shared.js";

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("IPv6-only reflector", () => {
  it("with CALICO_ROUTER_ID and IP6 only, two BIRD 2 clients get each other's routes", async () => {
    const ns = `rr6only-${process.pid}`;
    const netns = (...args: string[]) =>
      execFileSync("bash", [sharedPath("lab", "netns-lab.sh"), ...args], {
        stdio: "ignore",
        timeout: 20_000,
      });
    netns("up", ns, "3");
    cleanup.push(() => netns("down", ns));
    const rr6 = "fd42:4242::1";
    const addrs = ["fd42:4242::2", "fd42:4242::3"];
    const prefixes = ["2001:db8:57::/64", "2001:db8:58::/64"];
    const file = clientsFile(workdir("ipv6-only"), rr6, addrs);
    const rr = new Daemon(
      { IP6: rr6, CALICO_ROUTER_ID: "100.64.57.1", DATASTORE_FILE: file },
      [],
      ["ip", "netns", "exec", ns],
    );
    cleanup.push(() => rr.stop("SIGKILL"));
    const birds: Bird[] = await Promise.all(
      addrs.map((addr, i) =>
        startBird(`ipv6-only-${i}`, {
          addr,
          routerId: `100.64.57.${12 + i}`,
          peer: { addr: rr6, port: 179, asn: 64512 },
          routes: [prefixes[i]!],
          nextHop: `2001:db8:ffff::${i + 2}`,
          netns: ns,
        }),
      ),
    );
    for (const b of birds) cleanup.push(() => b.stop());
    const held = (b: Bird) =>
      new Set([...b.birdc("show", "route").matchAll(/^([0-9a-f:]+\/\d+)\s/gm)].map((m) => m[1]!));
    await waitFor(
      () => birds.every((b) => prefixes.every((p) => held(b).has(p))),
      60_000,
      "each client holding both routes",
    );
    expect((await rr.until("BGP listening"))[0]).toMatchObject({
      routerId: "100.64.57.1",
      listen: [`[${rr6}]:179`],
    });
    // reflected with our cluster ID, which is the router ID: the other client's ORIGINATOR_ID and our CLUSTER_LIST
    const all = birds[0]!.birdc("show", "route", prefixes[1]!, "all");
    expect(all).toMatch(/BGP\.cluster_list: 100\.64\.57\.1/);
  }, 120_000);
});
