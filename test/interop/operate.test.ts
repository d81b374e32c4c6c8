// Operating it as a user would: the built CLI started with a file datastore and real BIRD 2
// clients; `status`, `routes` and /metrics agree with what BIRD sent; editing the file adds a peer
// without resetting the others; SIGUSR2 is an administrative shutdown BIRD logs. Bad configuration
// stops start-up with a message naming the problem. Addresses 127.0.44.x.
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Daemon, runCli } from "../helpers/cli.js";
import { sinceMoved, startBird, waitFor, workdir } from "../helpers/lab.js";
import { deployedQueries, exposed, problems } from "../helpers/promql.js";
import { reliability } from "../helpers/reliability.js";

const RR = "127.0.44.1";
const HTTP = `${RR}:9179`;
const CLIENTS = { a: "127.0.44.2", b: "127.0.44.3", c: "127.0.44.4" };

const yaml = (nodes: [string, string][]) =>
  [
    "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {nodeToNodeMeshEnabled: false, logSeverityScreen: Info}",
    `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: peer-with-rr}\nspec: {peerIP: ${RR}, asNumber: 64512}`,
    ...nodes.map(
      ([name, ip]) =>
        `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: ${name}}\nspec: {bgp: {ipv4Address: ${ip}/32}}`,
    ),
  ].join("\n---\n");

const cli = (...args: string[]) => {
  const r = runCli([...args, "--http", HTTP]);
  if (r.status !== 0) throw new Error(`routereflector ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};

async function metric(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${HTTP}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(labels ? `${name}{${labels}}` : `${name} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe("operating the reflector", () => {
  it("status, routes, metrics, file edits and shutdown, with BIRD 2 clients", async (ctx) => {
    const testStart = Date.now();
    reliability(ctx, {
      scenario: "Connections from unconfigured addresses",
      load: "the built CLI with BIRD 2 clients",
      fault: "a TCP connection from an address that is no peer, then 300 at once",
      checked:
        "closed before any OPEN, each counted in routereflector_connections_refused_total; logged at most once a second",
    });
    const dir = workdir("operate");
    const file = join(dir, "calico.yaml");
    writeFileSync(
      file,
      yaml([
        ["bird-a", CLIENTS.a],
        ["bird-b", CLIENTS.b],
      ]),
    );
    const rr = new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: HTTP });
    cleanup.push(() => rr.stop("SIGKILL"));

    const peerOf = { addr: RR, port: 179, asn: 64512 };
    const a = await startBird("op-a", {
      addr: CLIENTS.a,
      peer: peerOf,
      routes: ["198.18.50.0/24", "198.18.51.0/24"],
    });
    const b = await startBird("op-b", { addr: CLIENTS.b, peer: peerOf, routes: ["198.18.52.0/24"] });
    cleanup.push(
      () => a.stop(),
      () => b.stop(),
    );
    // the HTTP endpoint comes up after BGP: until then status has no reflector to ask
    const established = () => {
      try {
        return (cli("status").match(/Established/g) ?? []).length;
      } catch {
        return 0;
      }
    };
    await waitFor(() => established() === 2, 30_000, "both Established");
    // wait for the routes to settle: each client is advertised the other's (its own come back
    // too, for the update group's stream, and are not counted: issue 16)
    await waitFor(() => /\| 127\.0\.44\.3 .*\| 1 +\| 2 +\|/.test(cli("status")), 20_000, "prefix counts");
    const status = cli("status");
    expect(status).toMatch(/^routereflector is running: legacy mode, router ID 127\.0\.44\.1, AS 64512/);
    expect(status).toMatch(
      /\| 127\.0\.44\.2 +\| global +\| up +\| \d\d:\d\d:\d\d \| Established \| 2 +\| 1 +\|/,
    );
    expect(status).toMatch(
      /\| 127\.0\.44\.3 +\| global +\| up +\| \d\d:\d\d:\d\d \| Established \| 1 +\| 2 +\|/,
    );
    expect(status).toMatch(/IPv6 BGP status\nNo IPv6 peers found\./);

    const routes = cli("routes");
    expect(routes).toMatch(
      /^198\.18\.50\.0\/24\n {2}\* from 127\.0\.44\.2 \(127\.0\.44\.2\): next hop 203\.0\.113\.2, AS path -, origin igp.*\[best, age \d+s\]$/m,
    );
    expect(routes).toMatch(/^198\.18\.52\.0\/24\n {2}\* from 127\.0\.44\.3 /m);
    expect(cli("routes", "198.18.52.0/24", "--peer", CLIENTS.b).trim().split("\n")).toHaveLength(2);
    expect(cli("routes", "198.18.52.0/24", "--peer", CLIENTS.a).trim()).toBe("No routes.");
    // an address: the longest prefix that covers it
    expect(cli("routes", "198.18.52.77").split("\n")[0]).toBe("198.18.52.0/24");
    expect((await fetch(`http://${HTTP}/routes?prefix=garbage`)).status).toBe(400);
    const json = JSON.parse(cli("routes", "--json")) as { prefix: string; paths: { learnedAt: string }[] }[];
    expect(json.map((r) => r.prefix).sort()).toEqual(["198.18.50.0/24", "198.18.51.0/24", "198.18.52.0/24"]);
    // each path's time: since it came, within this test
    for (const p of json.flatMap((r) => r.paths)) {
      expect(Date.parse(p.learnedAt)).toBeGreaterThan(testStart);
      expect(Date.parse(p.learnedAt)).toBeLessThanOrEqual(Date.now());
    }

    // /metrics agrees with status
    expect(await metric("routereflector_bgp_prefixes_received", `peer="${CLIENTS.a}",family="ipv4"`)).toBe(2);
    expect(await metric("routereflector_bgp_prefixes_advertised", `peer="${CLIENTS.b}",family="ipv4"`)).toBe(
      2,
    );
    expect(
      await metric(
        "routereflector_bgp_session_established",
        `peer="${CLIENTS.a}",name="Global_127_0_44_2",type="global"`,
      ),
    ).toBe(1);
    expect(await metric("routereflector_datastore_synced", `datastore="file"`)).toBe(1);
    expect(await metric("routereflector_loc_rib_prefixes", `family="ipv4"`)).toBe(3);
    expect(await (await fetch(`http://${HTTP}/readyz`)).text()).toBe("ok\n");
    // what operators alert on
    expect(await metric("routereflector_datastore_connected", `datastore="file"`)).toBe(1);
    const uptime = await metric(
      "routereflector_bgp_session_uptime_seconds",
      `peer="${CLIENTS.a}",name="Global_127_0_44_2",type="global"`,
    );
    expect(uptime).toBeGreaterThan(0);
    expect(await metric("routereflector_bgp_session_flaps_total", `peer="${CLIENTS.b}"`)).toBe(0);
    const build = (await (await fetch(`http://${HTTP}/metrics`)).text())
      .split("\n")
      .find((l) => l.startsWith("routereflector_build_info{"));
    expect(build).toMatch(/^routereflector_build_info\{version="\d+\.\d+\.\d+",nodejs="\d+\.\d+\.\d+"\} 1$/);

    // b stops (BIRD sends Cease / Administrative Shutdown) and comes back: a flap, a NOTIFICATION received
    await b.stop();
    await waitFor(
      async () => (await metric("routereflector_bgp_session_flaps_total", `peer="${CLIENTS.b}"`)) === 1,
      10_000,
      "the flap counted",
    );
    expect(
      await metric(
        "routereflector_bgp_notifications_total",
        `peer="${CLIENTS.b}",direction="received",code="6",subcode="2"`,
      ),
    ).toBe(1);
    // (a scrape reads a status at most 500 ms old)
    await waitFor(
      async () =>
        (await metric(
          "routereflector_bgp_session_uptime_seconds",
          `peer="${CLIENTS.b}",name="Global_127_0_44_3",type="global"`,
        )) === 0,
      5000,
      "b's uptime 0",
    );
    b.start();
    await waitFor(() => established() === 2, 30_000, "b Established again");
    // one peer in full, once b's route is back
    let detail = "";
    await waitFor(
      () => {
        detail = cli("status", CLIENTS.a);
        return /Advertised: +198\.18\.52\.0\/24$/m.test(detail);
      },
      10_000,
      "b's route advertised to a again",
    );
    expect(detail).toMatch(
      /^Global_127_0_44_2 \(global\) 127\.0\.44\.2 port 179, from bgppeers\/peer-with-rr$/m,
    );
    expect(detail).toMatch(/^ {2}State: +Established since /m);
    expect(detail).toMatch(/^ {2}Neighbor ID: +127\.0\.44\.2$/m);
    expect(detail).toMatch(/^ {2}Families: +ipv4$/m);
    expect(detail).toMatch(/^ {2}Its capabilities: .*route-refresh/m);
    expect(detail).toMatch(/^ {2}Prefixes: +received 2 IPv4, 0 IPv6; advertised 1 IPv4/m);
    expect(detail).toMatch(/^ {2}Advertised: +198\.18\.52\.0\/24$/m);
    const bDetail = JSON.parse(cli("status", CLIENTS.b, "--json")) as {
      flaps: number;
      notifications: unknown[];
    };
    expect(bDetail.flaps).toBe(1);
    expect(bDetail.notifications).toEqual([{ direction: "received", code: 6, subcode: 2, count: 1 }]);
    // why: a's route goes to b; its own comes back to a only with the group's stream
    const why = cli("why", "198.18.50.0/24", "--peer", CLIENTS.b).trim().split("\n");
    expect(why).toEqual([
      `198.18.50.0/24 to ${CLIENTS.b}:`,
      expect.stringMatching(
        new RegExp(`^ {2}path from ${CLIENTS.a.replace(/\./g, "\\.")}, the best: sent at \\S+Z$`),
      ),
    ]);
    const sentAt = Date.parse(/sent at (\S+)$/.exec(why[1] ?? "")?.[1] ?? "");
    expect(sentAt).toBeGreaterThan(testStart);
    expect(sentAt).toBeLessThanOrEqual(Date.now());
    // asked for a route refresh, BIRD sends its routes again: more UPDATEs from it
    const updates = async () => metric("routereflector_bgp_updates_received_total", `peer="${CLIENTS.a}"`);
    const updatesBefore = (await updates()) ?? 0;
    expect(cli("refresh", CLIENTS.a).trim()).toBe(`asked ${CLIENTS.a} for its ipv4 routes again`);
    await waitFor(async () => ((await updates()) ?? 0) > updatesBefore, 10_000, "BIRD's routes sent again");
    const unknown = runCli(["refresh", "127.0.44.99", "--http", HTTP]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('routereflector: no peer "127.0.44.99"');
    // every query of deploy/'s dashboard and alert rules, against this /metrics
    const live = exposed(await (await fetch(`http://${HTTP}/metrics`)).text());
    const queries = deployedQueries();
    expect(queries.length).toBeGreaterThan(20);
    expect(queries.flatMap((q) => problems(q, live))).toEqual([]);
    // and the check does find a wrong one
    expect(problems('routereflector_bgp_session_state{peerx="a"}', live)).toHaveLength(1);
    expect(problems("sum by (zone) (routereflector_loc_rib_prefixes)", live)).toHaveLength(1);
    expect(problems("rate(routereflector_bgp_flaps_total[5m])", live)).toHaveLength(1);

    // a connection from an address that is no peer: closed before any OPEN, logged and counted
    const stranger = net.connect({ host: RR, port: 179, localAddress: "127.0.44.9" });
    const got: Buffer[] = [];
    stranger.on("data", (d: Buffer) => got.push(d));
    await new Promise((r) => stranger.once("close", r));
    expect(Buffer.concat(got)).toHaveLength(0);
    // the log line comes through the reflector's stdout, after the close
    const refused = () => rr.logged("connection from an unconfigured address closed", { peer: "127.0.44.9" });
    await waitFor(() => refused().length > 0, 5000, "the refusal logged");
    expect(refused()).toHaveLength(1);
    expect(await metric("routereflector_connections_refused_total", "")).toBe(1);
    // a flood of them (issue 15, finding 7): every one counted, the log rate-limited
    const flood = 300;
    await Promise.all(
      Array.from({ length: flood }, async () => {
        const c = net.connect({ host: RR, port: 179, localAddress: "127.0.44.9" });
        c.on("error", () => {});
        await new Promise((r) => c.once("close", r));
      }),
    );
    await waitFor(
      async () => (await metric("routereflector_connections_refused_total", "")) === flood + 1,
      10_000,
      "every refusal counted",
    );
    // one line at the first, then at most one a second with how many came meanwhile
    expect(refused().length).toBeLessThanOrEqual(3);

    // a new Node in the file: a new session, the others untouched
    const before = { a: a.protocol().since, b: b.protocol().since };
    const c = await startBird("op-c", { addr: CLIENTS.c, peer: peerOf, routes: ["198.18.53.0/24"] });
    cleanup.push(() => c.stop());
    writeFileSync(
      file,
      yaml([
        ["bird-a", CLIENTS.a],
        ["bird-b", CLIENTS.b],
        ["bird-c", CLIENTS.c],
      ]),
    );
    await waitFor(() => established() === 3, 30_000, "c Established");
    // SIGHUP with nothing changed moves nothing either
    rr.proc.kill("SIGHUP");
    await waitFor(() => rr.logged("reload requested").length === 1, 5000, "reload logged");
    await new Promise((r) => setTimeout(r, 500));
    expect(sinceMoved(before.a, a.protocol().since)).toBeLessThan(10);
    expect(sinceMoved(before.b, b.protocol().since)).toBeLessThan(10);
    expect(rr.logged("peer changed: session reset")).toHaveLength(0);

    // SIGUSR2, stop for good: every client hears an administrative shutdown with our message (a
    // SIGTERM is a restart that they ride out with our routes kept: test/interop/restart.test.ts)
    expect(await rr.stop("SIGUSR2")).toBe(0);
    for (const bird of [a, b, c]) {
      await waitFor(
        () => /Administrative shutdown: "route reflector decommissioned"/.test(bird.log()),
        10_000,
        "shutdown at BIRD",
      );
    }
  }, 120_000);

  const dir = workdir("badcfg");
  const bad = (env: Record<string, string>) => runCli([], undefined, { HTTP_LISTEN: "off", ...env });

  it.each([
    [
      { DATASTORE_TYPE: "zookeeper" },
      /^routereflector: DATASTORE_TYPE: "zookeeper" is not file, etcdv3 or kubernetes$/m,
    ],
    [
      { IP: "300.1.1.1", DATASTORE_FILE: "/dev/null" },
      /^routereflector: IP: not an IPv4 address: "300\.1\.1\.1"$/m,
    ],
    [
      { IP: RR, ETCD_ENDPOINTS: "https://127.0.44.9:2379", ETCD_CERT_FILE: "/nonexistent/cert.pem" },
      /^routereflector: ETCD_CERT_FILE: cannot read \/nonexistent\/cert\.pem: ENOENT$/m,
    ],
  ])("bad configuration %j stops start-up naming it", (env, message) => {
    const r = bad(env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("an invalid YAML file stops start-up naming the file and the document", () => {
    const file = join(dir, "broken.yaml");
    writeFileSync(file, "apiVersion: projectcalico.org/v3\nkind: Node\n---\nkind: [oops\n");
    const r = bad({ IP: RR, DATASTORE_FILE: file });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`routereflector: ${file}: invalid YAML in document 2:`);
  });

  it("config check prints the peerings, and fails on an invalid object", () => {
    const file = join(dir, "check.yaml");
    writeFileSync(
      file,
      `${yaml([["bird-a", CLIENTS.a]])}\n---\napiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: bad}\nspec: {peerIP: 203.0.113.1}\n`,
    );
    const r = runCli(["config", "check"], undefined, { IP: RR, DATASTORE_FILE: file, MAX_PREFIXES: "500" });
    expect(r.stdout).toMatch(
      /^legacy mode: router ID 127\.0\.44\.1, AS 64512, cluster ID 127\.0\.44\.1, BGP port 179$/m,
    );
    expect(r.stdout).toMatch(
      /\| Global_127_0_44_2 \| 127\.0\.44\.2 +\| 179 +\| global +\| 64512 \| 64512 +\| yes +\| no +\| 500 +\| bgppeers\/peer-with-rr \|/,
    );
    // the reason too: the field and what is wrong with it
    expect(r.stderr).toMatch(
      /error: invalid object skipped: .*document 4: spec\.asNumber: required with peerIP$/m,
    );
    expect(r.status).toBe(1);
  });

  it("config check fails when NODENAME names no Calico Node", () => {
    const file = join(dir, "nodename.yaml");
    writeFileSync(file, yaml([["bird-a", CLIENTS.a]]));
    const r = runCli(["config", "check"], undefined, { IP: RR, NODENAME: "rr-typo", DATASTORE_FILE: file });
    expect(r.stdout).toMatch(/^legacy mode: router ID 127\.0\.44\.1/m);
    expect(r.stderr).toContain(
      "error: NODENAME rr-typo matches no Calico Node: the reflector would run in legacy mode",
    );
    expect(r.status).toBe(1);
  });
});
