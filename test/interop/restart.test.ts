// Restarting the reflector under real clients (issue 14): BIRD 2, BIRD 1.6, FRR and GoBGP clients with
// graceful restart, each announcing a route, and the built CLI as their reflector. Through a SIGTERM (a
// rollout) and a SIGKILL (a crash), each followed by a new process 2 s later, every client's table
// is sampled all along: no client may lack any other client's route at any sample. A stop for
// good (SIGUSR2) makes them withdraw. Addresses 127.0.47.x; IPv6 in a network namespace of its own.
import { execFileSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { clientsFile, Daemon } from "../helpers/cli.js";
import { type Bird, LabSpeaker, startBird, startGobgpClient, waitFor, workdir } from "../helpers/lab.js";
import { reliability } from "../helpers/reliability.js";
import { sharedPath } from "../helpers/shared.js";

const RR = "127.0.47.1";
const HTTP = `${RR}:9179`;

interface Client {
  name: string;
  addr: string;
  prefix: string;
  /** the prefixes it holds now, learned or its own */
  held(): Set<string>;
  up(): boolean;
}

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

function birdClient(b: Bird, addr: string, prefix: string): Client {
  return {
    name: `BIRD ${addr}`,
    addr,
    prefix,
    held: () =>
      new Set([...b.birdc("show", "route").matchAll(/^(\d+\.\d+\.\d+\.\d+\/\d+)\s/gm)].map((m) => m[1]!)),
    up: () => b.protocol().info === "Established",
  };
}

function frrClient(s: LabSpeaker, addr: string, prefix: string): Client {
  const json = (cmd: string) => JSON.parse(s.run("vtysh", "-c", cmd)) as Record<string, unknown>;
  return {
    name: `FRR ${addr}`,
    addr,
    prefix,
    held: () => new Set(Object.keys((json("show bgp ipv4 unicast json").routes ?? {}) as object)),
    up: () => {
      const peers = (json("show bgp ipv4 unicast summary json").peers ?? {}) as Record<
        string,
        { state: string }
      >;
      return peers[RR]?.state === "Established";
    },
  };
}

function gobgpClient(g: Awaited<ReturnType<typeof startGobgpClient>>, addr: string, prefix: string): Client {
  return {
    name: `GoBGP ${addr}`,
    addr,
    prefix,
    held: () =>
      new Set(Object.keys(JSON.parse(g.gobgp("global", "rib", "-a", "ipv4", "-j") || "{}") as object)),
    up: () => /BGP state = established/i.test(g.gobgp("neighbor", RR)),
  };
}

/** Every client up, holding every other client's route. */
const whole = (clients: Client[]) =>
  Object.values(missing(clients)).every((n) => n === 0) && clients.every((c) => c.up());

/** For each client, how many of the other clients' prefixes it lacks now. */
function missing(clients: Client[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of clients) {
    const held = c.held();
    out[c.name] = clients.filter((o) => o !== c && !held.has(o.prefix)).length;
  }
  return out;
}

/** Samples every client's table until stopped; resolves with the worst each one saw, and the count. */
function sampler(clients: Client[]) {
  let running = true;
  const worst: Record<string, number> = Object.fromEntries(clients.map((c) => [c.name, 0]));
  let samples = 0;
  const done = (async () => {
    while (running) {
      for (const [name, n] of Object.entries(missing(clients))) worst[name] = Math.max(worst[name]!, n);
      samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { worst, samples };
    },
  };
}

/**
 * A SIGTERM and then a SIGKILL of the reflector, each followed by a new one (`start`) 2 s later,
 * with every client's table sampled until the new one is done and every table is whole again.
 * Returns the new reflector and what was measured; fails if any client lacked a route at any sample.
 */
async function restarts(
  clients: Client[],
  first: Daemon,
  start: () => Daemon,
  /** the new reflector says its deferral is over (its /readyz, or its log) */
  over: (rr: Daemon) => boolean | Promise<boolean> = (rr) => rr.logged(DEFERRAL_OVER).length > 0,
) {
  let rr = first;
  const results: string[] = [];
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const s = sampler(clients);
    await rr.stop(signal);
    await new Promise((r) => setTimeout(r, 2000));
    rr = start();
    await waitFor(() => over(rr), 30_000, `the new reflector's deferral over after ${signal}`);
    await waitFor(() => whole(clients), 30_000, `every client Established and whole after ${signal}`);
    // a few more samples with the new process settled
    await new Promise((r) => setTimeout(r, 2000));
    const { worst, samples } = await s.stop();
    results.push(
      `${signal}: ${samples} samples, most routes missing at any client ${Math.max(...Object.values(worst))}`,
    );
    expect(worst, `routes missing during ${signal}`).toEqual(
      Object.fromEntries(clients.map((c) => [c.name, 0])),
    );
  }
  return { rr, results };
}

const DEFERRAL_OVER = "selection deferral over: every peer's routes are in; tables sent";

describe("restarting the reflector under BIRD 2, BIRD 1.6, FRR and GoBGP clients with graceful restart", () => {
  it("SIGTERM and SIGKILL, each with a new process 2 s later: no client lacks a route at any sample; SIGUSR2 withdraws", async (ctx) => {
    const measured = reliability(ctx, {
      scenario: "Reflector restarted under real clients",
      load: "two BIRD 2, one BIRD 1.6, one FRR and one GoBGP client with graceful restart, a route each",
      fault: "SIGTERM, then SIGKILL, each followed by a new process 2 s later; then SIGUSR2 (stop for good)",
      checked:
        "every client's table sampled throughout: none lacks another's route at any sample; after SIGUSR2 they withdraw",
    });
    const addrs = ["127.0.47.2", "127.0.47.3", "127.0.47.4", "127.0.47.5", "127.0.47.6"];
    const prefixes = [
      "198.18.47.0/24",
      "198.18.48.0/24",
      "198.18.49.0/24",
      "198.18.50.0/24",
      "198.18.51.0/24",
    ];
    const dir = workdir("restart");
    const file = clientsFile(dir, RR, addrs);
    let rr = new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: HTTP });
    cleanup.push(() => rr.stop("SIGKILL"));
    const peer = { addr: RR, port: 179, asn: 64512 };
    const birds = await Promise.all(
      [0, 1].map((i) =>
        startBird(`restart-${i}`, { addr: addrs[i]!, peer, routes: [prefixes[i]!], gracefulRestart: true }),
      ),
    );
    for (const b of birds) cleanup.push(() => b.stop());
    const frr = LabSpeaker.start("start-frr-rr.sh", addrs[2]!, {
      PEERS: RR,
      ROUTES: prefixes[2]!,
      CONNECT_RETRY: "1",
      HOLD_TIME: "90",
    });
    cleanup.push(() => frr.stop());
    const gobgp = await startGobgpClient(addrs[3]!, RR, [prefixes[3]!]);
    cleanup.push(() => gobgp.stop());
    // calico/node runs a fork of BIRD 1.6
    const bird1 = await startBird("restart-bird1", {
      addr: addrs[4]!,
      peer,
      routes: [prefixes[4]!],
      gracefulRestart: true,
      bird1: true,
    });
    cleanup.push(() => bird1.stop());
    const clients = [
      birdClient(birds[0]!, addrs[0]!, prefixes[0]!),
      birdClient(birds[1]!, addrs[1]!, prefixes[1]!),
      frrClient(frr, addrs[2]!, prefixes[2]!),
      gobgpClient(gobgp, addrs[3]!, prefixes[3]!),
      { ...birdClient(bird1, addrs[4]!, prefixes[4]!), name: `BIRD 1.6 ${addrs[4]}` },
    ];
    await waitFor(() => whole(clients), 60_000, "every client holding every route");
    const ready = async () => (await fetch(`http://${HTTP}/readyz`).catch(() => undefined))?.status === 200;

    const restarted = await restarts(
      clients,
      rr,
      () => new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: HTTP }),
      ready,
    );
    rr = restarted.rr;
    const results = restarted.results;

    // For good: the clients withdraw what we reflected.
    await rr.stop("SIGUSR2");
    await waitFor(
      () => Object.values(missing(clients)).every((n) => n === clients.length - 1),
      10_000,
      "every client without the others' routes",
    );
    measured(`${results.join("; ")}; after SIGUSR2 every client dropped the others' routes`);
  }, 240_000);

  // The same over IPv6 sessions, in a network namespace of its own (IPv6 loopback has only ::1).
  it("IPv6: two BIRD 2 clients keep every route through a SIGTERM and a SIGKILL", async (ctx) => {
    const measured = reliability(ctx, {
      scenario: "Reflector restarted under real clients, IPv6",
      load: "two BIRD 2 clients over IPv6 sessions with graceful restart, an IPv6 route each",
      fault: "SIGTERM, then SIGKILL, each followed by a new process 2 s later",
      checked: "every client's table sampled throughout: none lacks another's route at any sample",
    });
    const ns = `rrgr6-${process.pid}`;
    const netns = (...args: string[]) =>
      execFileSync("bash", [sharedPath("lab", "netns-lab.sh"), ...args], {
        stdio: "ignore",
        timeout: 20_000,
      });
    netns("up", ns, "4");
    cleanup.push(() => netns("down", ns));
    const rr6 = "fd42:4242::1";
    const addrs = ["fd42:4242::2", "fd42:4242::3"];
    const prefixes = ["2001:db8:47::/64", "2001:db8:48::/64"];
    const file = clientsFile(workdir("restart6"), rr6, addrs);
    const env = { IP: "127.0.47.1", IP6: rr6, DATASTORE_FILE: file };
    const inNs = ["ip", "netns", "exec", ns];
    let rr = new Daemon(env, [], inNs);
    cleanup.push(() => rr.stop("SIGKILL"));
    const birds = await Promise.all(
      addrs.map((addr, i) =>
        startBird(`restart6-${i}`, {
          addr,
          routerId: `127.0.47.${12 + i}`,
          peer: { addr: rr6, port: 179, asn: 64512 },
          routes: [prefixes[i]!],
          nextHop: `2001:db8:ffff::${i + 2}`,
          gracefulRestart: true,
          netns: ns,
        }),
      ),
    );
    for (const b of birds) cleanup.push(() => b.stop());
    const clients: Client[] = birds.map((b, i) => ({
      name: `BIRD ${addrs[i]}`,
      addr: addrs[i]!,
      prefix: prefixes[i]!,
      held: () => new Set([...b.birdc("show", "route").matchAll(/^([0-9a-f:]+\/\d+)\s/gm)].map((m) => m[1]!)),
      up: () => b.protocol().info === "Established",
    }));
    await waitFor(() => whole(clients), 60_000, "every client holding every route");
    const { rr: last, results } = await restarts(clients, rr, () => new Daemon(env, [], inNs));
    rr = last;
    measured(results.join("; "));
  }, 180_000);

  // Two reflectors, as a Deployment of two runs them: a rollout restarts one, then the other;
  // an outage may restart both at once. Every client peers with both.
  it("two reflectors, rolled one after the other, then both restarted at once: no client lacks a route at any sample", async (ctx) => {
    const measured = reliability(ctx, {
      scenario: "Two reflectors restarted, rolling and at once",
      load: "three BIRD 2 clients with graceful restart, each peering with both reflectors, a route each",
      fault:
        "SIGTERM to one reflector, a new one 2 s later, then the same to the other; then SIGTERM to both at once",
      checked: "every client's table sampled throughout: none lacks another's route at any sample",
    });
    const reflectors = ["127.0.48.1", "127.0.48.2"];
    const addrs = ["127.0.48.3", "127.0.48.4", "127.0.48.5"];
    const prefixes = ["198.18.52.0/24", "198.18.53.0/24", "198.18.54.0/24"];
    const files = reflectors.map((r) => clientsFile(workdir("restart2"), r, addrs));
    const start = (i: number) => new Daemon({ IP: reflectors[i]!, DATASTORE_FILE: files[i]! });
    const rrs = [start(0), start(1)];
    cleanup.push(() => Promise.all(rrs.map((r) => r.stop("SIGKILL"))));
    const birds = await Promise.all(
      addrs.map((addr, i) =>
        startBird(`restart2-${i}`, {
          addr,
          peer: { addr: reflectors[0]!, port: 179, asn: 64512 },
          alsoPeer: { addr: reflectors[1]!, port: 179, asn: 64512 },
          routes: [prefixes[i]!],
          gracefulRestart: true,
        }),
      ),
    );
    for (const b of birds) cleanup.push(() => b.stop());
    const clients: Client[] = birds.map((b, i) => ({
      ...birdClient(b, addrs[i]!, prefixes[i]!),
      up: () => b.protocol("ours").info === "Established" && b.protocol("ours2").info === "Established",
    }));
    await waitFor(() => whole(clients), 60_000, "every client holding every route from both");
    /** Restarts these reflectors together: SIGTERM, a new process 2 s later, its deferral over. */
    const restart = async (which: number[]) => {
      await Promise.all(which.map((i) => rrs[i]!.stop("SIGTERM")));
      await new Promise((r) => setTimeout(r, 2000));
      for (const i of which) rrs[i] = start(i);
      await waitFor(
        () => which.every((i) => rrs[i]!.logged(DEFERRAL_OVER).length > 0),
        30_000,
        "the deferrals over",
      );
      await waitFor(() => whole(clients), 30_000, "every client Established with both and whole");
    };
    const results: string[] = [];
    for (const [what, steps] of [
      ["rolling", [[0], [1]]],
      ["both at once", [[0, 1]]],
    ] as const) {
      const s = sampler(clients);
      for (const which of steps) await restart([...which]);
      await new Promise((r) => setTimeout(r, 2000));
      const { worst, samples } = await s.stop();
      results.push(
        `${what}: ${samples} samples, most routes missing at any client ${Math.max(...Object.values(worst))}`,
      );
      expect(worst, `routes missing, ${what}`).toEqual(Object.fromEntries(clients.map((c) => [c.name, 0])));
    }
    measured(results.join("; "));
  }, 180_000);
});
