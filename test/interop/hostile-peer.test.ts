// Hostile peers against the built CLI over TCP, with a real BIRD 2 client watching (issue 15,
// findings 1 and 6): a valid UPDATE that outgrows 4,096 octets once reflected, and a peer that
// trickles a message it never completes. Addresses 127.0.46.x.
import { afterAll, describe, expect, it } from "vitest";
import type { UpdateMessage } from "../../src/bgp/index.js";
import { clientsFile, Daemon } from "../helpers/cli.js";
import { startBird, waitFor, workdir } from "../helpers/lab.js";
import { tcpPeer } from "../helpers/raw-peer.js";
import { reliability } from "../helpers/reliability.js";

const RR = "127.0.46.1";
const HTTP = `${RR}:9179`;
const SOURCE = "127.0.46.2";
const BIRD = "127.0.46.3";
const TRICKLER = "127.0.46.4";

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

async function metric(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(`http://${HTTP}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe("hostile peers against the running reflector", () => {
  it("an UPDATE too large once reflected, and a peer that trickles octets: the reflector stays, BIRD keeps every other route", async (ctx) => {
    reliability(ctx, {
      scenario: "Hostile peers over TCP",
      load: "the built CLI with a BIRD 2 client",
      fault:
        "a valid 4,096-octet UPDATE that reflection makes 4,110; a peer sending one octet a second of a message it never completes",
      checked:
        "the process stays; BIRD's session stays and it gets every other route; the route counted as left out; the trickler dropped with Hold Timer Expired",
    });
    const dir = workdir("hostile");
    const file = clientsFile(dir, RR, [SOURCE, BIRD, TRICKLER]);
    const rr = new Daemon({ IP: RR, DATASTORE_FILE: file, HTTP_LISTEN: HTTP });
    cleanup.push(() => rr.stop("SIGKILL"));
    await waitFor(() => rr.lines.some((l) => String(l.msg).startsWith("BGP listening")), 20_000, "listening");
    const bird = await startBird("hostile", { addr: BIRD, peer: { addr: RR, port: 179, asn: 64512 } });
    cleanup.push(() => bird.stop());
    await waitFor(() => bird.protocol().state === "up", 30_000, "BIRD Established");

    const source = await tcpPeer(RR, SOURCE, 90);
    cleanup.push(() => source.socket.destroy());
    const announce = (nlri: string[], communities: string[] = []): UpdateMessage => ({
      type: "UPDATE",
      withdrawn: [],
      attributes: {
        origin: "igp",
        asPath: [],
        nextHop: "203.0.113.2",
        localPref: 100,
        ...(communities.length ? { communities } : {}),
      },
      nlri,
    });
    // 1,011 communities: exactly 4,096 octets as sent, 4,110 once reflected
    source.send(
      announce(
        ["198.18.1.0/24"],
        Array.from({ length: 1011 }, (_, i) => `64512:${i}`),
      ),
    );
    source.send(announce(["198.18.2.0/24"]));
    await waitFor(
      () => /198\.18\.2\.0\/24/.test(bird.birdc("show", "route")),
      20_000,
      "the small route at BIRD",
    );
    await waitFor(
      async () =>
        (await metric("routereflector_bgp_prefixes_left_out", `peer="${BIRD}",family="ipv4"`)) === 1,
      10_000,
      "the large route counted as left out for BIRD",
    );
    expect(bird.birdc("show", "route")).not.toMatch(/198\.18\.1\.0\/24/);
    // one line per update group that leaves it out: BIRD's names BIRD once (BIRD knows LLGR and
    // the raw source does not, so they are in two groups)
    const leftOut = await rr.until("routes left out: too large for one UPDATE to these peers");
    expect(leftOut.filter((l) => (l.peers as string[]).includes(BIRD))).toHaveLength(1);
    expect(leftOut.every((l) => (l.prefixes as string[]).includes("198.18.1.0/24"))).toBe(true);

    // the trickler: one octet a second of an UPDATE it never finishes, hold time 3 s
    const trickler = await tcpPeer(RR, TRICKLER, 3);
    cleanup.push(() => trickler.socket.destroy());
    const partial = Buffer.alloc(200, 0xff);
    let sent = 0;
    const drip = setInterval(() => {
      if (!trickler.closed) trickler.sendRaw(partial.subarray(sent, ++sent));
    }, 1000);
    cleanup.push(() => clearInterval(drip));
    const n = await trickler.next("NOTIFICATION", 10_000);
    expect([n.code, n.subcode]).toEqual([4, 0]);
    expect(sent).toBeLessThan(6);

    expect(bird.protocol().state).toBe("up");
    expect(rr.proc.exitCode).toBeNull();
    source.send(announce(["198.18.3.0/24"]));
    await waitFor(() => /198\.18\.3\.0\/24/.test(bird.birdc("show", "route")), 20_000, "a route after both");
  }, 120_000);
});
