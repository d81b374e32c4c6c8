// Long-lived graceful restart (RFC 9494) in the receiving role, with real speakers: a BIRD 2
// client with graceful restart (3 s) and long-lived graceful restart (60 s) announces a route
// and is killed. Through its restart time the others keep the route as it was; after it, a BIRD
// 1.6.8 client (which announces LLGR by default) holds it with LLGR_STALE,
// and a BIRD 2 client with LLGR off with NO_EXPORT and LOCAL_PREF 0 (RFC 9494's partial
// deployment); neither loses it while the client is away. The client back, the route is fresh again
// everywhere. Addresses
// 127.0.57.x.
import { afterAll, describe, expect, it } from "vitest";
import { clientsFile, Daemon, runCli } from "../helpers/cli.js";
import { type Bird, startBird, waitFor, workdir } from "../helpers/lab.js";

const RR = "127.0.57.1";
const A = "127.0.57.2";
const AWARE = "127.0.57.3";
const UNAWARE = "127.0.57.4";
const PREFIX = "198.18.57.0/24";

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A BIRD 2 client with graceful restart, and LLGR `on` (with a stale time) or `off`. */
const bird2 = (addr: string, llgr: "on" | "off", routes: string[]) => (dir: string) =>
  `log "${dir}/bird.log" all;
router id ${addr};
protocol device { scan time 60; }
protocol static st { ipv4;
${routes.map((r) => `  route ${r} unreachable { bgp_next_hop = 203.0.113.57; };`).join("\n")}
}
protocol bgp ours {
  local ${addr} port 179 as 64512; neighbor ${RR} port 179 as 64512; strict bind yes;
  connect delay time 1; connect retry time 2; error wait time 1, 2;
  graceful restart on; graceful restart time 3;
  long lived graceful restart ${llgr};${llgr === "on" ? " long lived stale time 60;" : ""}
  ipv4 { import all; export all; };
}
`;

/** A path as a client holds it: its communities and LOCAL_PREF, or undefined. */
function held(b: Bird): { communities: string; localPref: string } | undefined {
  const out = b.routeFor(PREFIX);
  if (!out.includes(PREFIX)) return undefined;
  return {
    communities: /BGP\.community: (.*)/.exec(out)?.[1]?.trim() ?? "",
    localPref: /BGP\.local_pref: (\d+)/.exec(out)?.[1] ?? "",
  };
}

describe("long-lived graceful restart, the receiving role", () => {
  it("a killed client's route: kept through its restart time, then long-lived stale, marked for each kind of peer; fresh when it is back", async () => {
    const file = clientsFile(workdir("llgr"), RR, [A, AWARE, UNAWARE]);
    const rr = new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: `${RR}:9179` });
    cleanup.push(() => rr.stop("SIGKILL"));
    const peer = { addr: RR, port: 179, asn: 64512 };
    const a = await startBird("llgr-a", { addr: A, peer, configText: bird2(A, "on", [PREFIX]) });
    const aware = await startBird("llgr-aware", { addr: AWARE, peer, bird1: true, gracefulRestart: true });
    const unaware = await startBird("llgr-unaware", {
      addr: UNAWARE,
      peer,
      configText: bird2(UNAWARE, "off", []),
    });
    for (const b of [a, aware, unaware]) cleanup.push(() => b.stop());
    await waitFor(
      () => held(aware) !== undefined && held(unaware) !== undefined,
      30_000,
      "the route at both",
    );
    expect(held(aware)).toEqual({ communities: "", localPref: "100" });

    // sampled from the kill through its long-lived stale time: never missing at either
    let missing = 0;
    let samples = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        if (!held(aware) || !held(unaware)) missing++;
        samples++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await a.stop("SIGKILL");
    await waitFor(
      () => held(aware)?.communities.includes("(65535,6)") ?? false,
      15_000,
      "LLGR_STALE at the aware client",
    );
    expect(held(aware)).toEqual({ communities: "(65535,6)", localPref: "100" });
    // `routes` says the path is stale (kept from the session that went down)
    const stale = runCli(["routes", PREFIX, "--http", `${RR}:9179`]);
    expect(stale.stdout).toMatch(
      /^ {2}\* from 127\.0\.57\.2 .*communities \["65535:6"\].*\[best, stale, age \d+s\]$/m,
    );
    await waitFor(
      () => held(unaware)?.localPref === "0",
      15_000,
      "the stale route at the client without LLGR",
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}: ${JSON.stringify(held(unaware))}\n${unaware.birdc("show", "route", "all")}`,
      );
    });
    expect(held(unaware)?.communities.split(" ").sort()).toEqual(["(65535,6)", "(65535,65281)"]);
    // past the restart time, still there
    await new Promise((r) => setTimeout(r, 5000));
    expect(held(aware)?.communities).toBe("(65535,6)");
    sampling = false;
    await sampler;
    expect(samples).toBeGreaterThan(30);
    expect(missing).toBe(0);

    // A BIRD started anew (not with -R) announces graceful restart with the F bit clear: its stale
    // routes go at once (RFC 4724 §4.2, RFC 9494 §4.2) and come back with its UPDATEs
    a.start();
    await waitFor(
      () => held(aware)?.communities === "" && held(unaware)?.communities === "",
      30_000,
      "fresh again",
    );
    expect(held(unaware)).toEqual({ communities: "", localPref: "100" });
    expect(runCli(["routes", PREFIX, "--http", `${RR}:9179`]).stdout).toMatch(/\[best, age \d+s\]$/m);
  }, 90_000);
});
