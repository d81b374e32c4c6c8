// End to end, as the old calico/routereflector was used: the built reflector reads its peers from a
// real etcd 3.4, real BIRD 2 clients come and go with their Calico Nodes, and etcd goes away for
// 30 s while the clients' routes churn, without any session noticing; then every client's table
// is checked against what the others announce. Addresses 127.0.41.x.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Daemon } from "../helpers/cli.js";
import { type Announcer, birdHeld, tableErrors } from "../helpers/consistency.js";
import { type Bird, Etcd, labRoutes, sinceMoved, startBird, waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";

const RR = "127.0.41.1";
const A = "127.0.41.2";
const B = "127.0.41.3";
const C = "127.0.41.4";

const node = (name: string, ip: string) => ({
  kind: "Node",
  metadata: { name },
  spec: { bgp: { ipv4Address: `${ip}/32` } },
});

const hasRoute = (b: Bird, prefix: string) => labRoutes("bird", b.dir).some((r) => r.prefix === prefix);

/**
 * Route churn: every 500 ms one client's routes file gets a new random subset of its 40 /26s
 * (plus its fixed /24) and BIRD reloads it. Returns what each client announces now.
 */
function churn(clients: { bird: Bird; file: string; third: number }[]) {
  const announced = new Map<string, Announcer>();
  const write = (c: (typeof clients)[number], first: boolean) => {
    const nextHop = `203.0.113.${c.bird.options.addr.split(".")[3]}`;
    const prefixes = [`198.18.${c.third}.0/24`];
    if (!first) {
      for (let i = 0; i < 40; i++)
        if (Math.random() < 0.5) prefixes.push(`100.${64 + c.third - 40}.${i}.64/26`);
    }
    writeFileSync(
      c.file,
      prefixes.map((p) => `route ${p} unreachable { bgp_next_hop = ${nextHop}; };\n`).join(""),
    );
    announced.set(c.bird.options.addr, {
      routerId: c.bird.options.addr,
      routes: new Map(prefixes.map((p) => [p, nextHop])),
    });
    if (!first) c.bird.birdc("configure");
  };
  for (const c of clients) write(c, true);
  let turn = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    announced,
    changes: () => turn,
    start: () => {
      timer = setInterval(
        () => write(clients[turn++ % clients.length] as (typeof clients)[number], false),
        500,
      );
    },
    stop: () => clearInterval(timer),
  };
}
const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("etcd v3 datastore end to end with BIRD 2 clients", () => {
  it("peers appear and go with their Nodes; etcd down for 30 s drops nothing", async (ctx) => {
    const measured = reliability(ctx, {
      scenario: "etcd stopped for 30 s under churn",
      load: "two BIRD 2 clients, taking turns to change their routes every 500 ms",
      fault: "etcd stopped for 30 s, then started",
      checked:
        "no session resets; a change after the restart applies; both tables exact (consistency checker)",
    });
    const etcd = new Etcd("127.0.41.10");
    cleanup.push(() => etcd.stop());
    etcd.start();
    etcd.putResource("bgpconfigurations", {
      kind: "BGPConfiguration",
      metadata: { name: "default" },
      spec: { nodeToNodeMeshEnabled: false, asNumber: 64512 },
    });
    // legacy mode: a global BGPPeer at the reflector's IP makes every node a client
    etcd.putResource("bgppeers", {
      kind: "BGPPeer",
      metadata: { name: "peer-with-rr" },
      spec: { peerIP: RR, asNumber: 64512 },
    });
    etcd.putResource("nodes", node("bird-a", A));

    const rr = new Daemon({
      DATASTORE_TYPE: "etcdv3",
      ETCD_ENDPOINTS: etcd.endpoint,
      IP: RR,
      LOG_LEVEL: "debug",
    });
    cleanup.push(() => rr.stop("SIGKILL"));
    await waitFor(() => rr.logged("peer added", { peer: A }).length === 1, 15_000, "peer a from etcd");

    const peerOf = { addr: RR, port: 179, asn: 64512 };
    const dir = workdir("e2e-routes");
    const files = { a: join(dir, "a.conf"), b: join(dir, "b.conf") };
    writeFileSync(files.a, "");
    writeFileSync(files.b, "");
    const a = await startBird("e2e-a", { addr: A, peer: peerOf, routesFile: files.a });
    const b = await startBird("e2e-b", { addr: B, peer: peerOf, routesFile: files.b });
    cleanup.push(
      () => a.stop(),
      () => b.stop(),
    );
    const routes = churn([
      { bird: a, file: files.a, third: 41 },
      { bird: b, file: files.b, third: 42 },
    ]);
    // BIRD started on empty files: read the first routes
    a.birdc("configure");
    b.birdc("configure");
    await waitFor(() => a.protocol().info === "Established", 20_000, "bird a Established");
    // b is not a Calico Node yet: its connections are closed before OPEN
    await waitFor(
      () => rr.logged("connection from an unconfigured address closed", { peer: B }).length > 0,
      10_000,
      "b refused",
    );
    expect(b.protocol().info).not.toBe("Established");

    etcd.putResource("nodes", node("bird-b", B));
    await waitFor(() => b.protocol().info === "Established", 20_000, "bird b Established");
    await waitFor(
      () => hasRoute(b, "198.18.41.0/24") && hasRoute(a, "198.18.42.0/24"),
      20_000,
      "routes reflected",
    );
    const before = { a: a.protocol().since, b: b.protocol().since };

    // etcd away for 30 s while the clients' routes churn: no session moves
    routes.start();
    cleanup.push(() => routes.stop());
    etcd.stop();
    await waitFor(
      () => rr.lines.some((l) => String(l.msg).includes("sessions and routes stay as they are")),
      20_000,
      "outage noticed",
    );
    await new Promise((r) => setTimeout(r, 30_000));
    expect(a.protocol().info).toBe("Established");
    expect(b.protocol().info).toBe("Established");
    expect(sinceMoved(before.a, a.protocol().since)).toBeLessThan(10);
    expect(sinceMoved(before.b, b.protocol().since)).toBeLessThan(10);
    etcd.start();
    // a change made once it is back applies: the watch resumed
    etcd.putResource("nodes", node("bird-c", C));
    await waitFor(() => rr.logged("peer added", { peer: C }).length === 1, 30_000, "peer c after the outage");
    expect(sinceMoved(before.a, a.protocol().since)).toBeLessThan(10);
    expect(sinceMoved(before.b, b.protocol().since)).toBeLessThan(10);
    // the churn ends: every client holds exactly what the other announces, nothing lost or stale
    routes.stop();
    const held = () => new Map([A, B].map((x) => [x, birdHeld(x === A ? a : b)]));
    await waitFor(
      () => tableErrors(routes.announced, held()).length === 0,
      20_000,
      "consistent tables",
    ).catch(() => undefined);
    expect(tableErrors(routes.announced, held())).toEqual([]);
    measured(`${routes.changes()} route changes during and after the outage; tables exact`);

    // deleting bird-a from etcd closes exactly its session
    etcd.deleteResource("nodes", "bird-a");
    await waitFor(() => rr.logged("peer removed", { peer: A }).length === 1, 10_000, "a removed");
    await waitFor(() => !hasRoute(b, "198.18.41.0/24"), 10_000, "a's route withdrawn from b");
    await waitFor(() => a.log().includes("Peer de-configured"), 10_000, "bird a told why");
    expect(b.protocol()).toMatchObject({ info: "Established", since: before.b });
    expect(rr.logged("peer removed")).toHaveLength(1);
    expect(rr.logged("peer changed: session reset")).toHaveLength(0);

    // SIGUSR2, stop for good: an administrative shutdown with our message, and a clean exit
    expect(await rr.stop("SIGUSR2")).toBe(0);
    await waitFor(() => /Administrative shutdown/i.test(b.log()), 10_000, "bird b sees the shutdown");
    expect(b.log()).toMatch(/route reflector decommissioned/);
  }, 150_000);
});
