// `npm start` on a fresh machine: no root, no datastore. The reflector runs on its embedded default
// (127.0.0.1 port 1179), says what it listens on and whom it expects, and a BIRD 2 client at one
// of the expected addresses peers with it.
import { afterAll, expect, it } from "vitest";
import { Daemon } from "../helpers/cli.js";
import { startBird, waitFor } from "../helpers/lab.js";

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

it("runs unprivileged on the embedded default, and an example node peers with it", async () => {
  const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
  const rr = new Daemon({ HTTP_LISTEN: "127.0.0.1:9181" }, [], nobody);
  cleanup.push(() => rr.stop("SIGKILL"));
  await waitFor(() => rr.logged("BGP listening", { event: "started" }).length === 1, 10_000, "start line");
  expect(rr.logged("BGP listening")[0]).toMatchObject({
    mode: "legacy",
    peers: 2,
    routerId: "127.0.0.1",
    listen: ["127.0.0.1:1179"],
    expecting: ["127.0.0.2 (global, AS 64512)", "127.0.0.3 (global, AS 64512)"],
  });
  const bird = await startBird("default-client", {
    addr: "127.0.0.2",
    port: 1179,
    peer: { addr: "127.0.0.1", port: 1179, asn: 64512 },
    routes: ["198.18.60.0/24"],
  });
  cleanup.push(() => bird.stop());
  await waitFor(
    () => rr.logged("session state", { peer: "127.0.0.2", to: "Established" }).length === 1,
    20_000,
    "Established",
  );
  type Status = { peers: { address: string; prefixesReceived: { ipv4: number } }[] };
  const status = async () => (await (await fetch("http://127.0.0.1:9181/status")).json()) as Status;
  let last: Status | undefined;
  await waitFor(
    () => {
      void status().then((s) => {
        last = s;
      });
      return last?.peers[0]?.prefixesReceived.ipv4 === 1;
    },
    10_000,
    "BIRD's route counted",
  );
  expect(last?.peers.map((p) => p.address)).toEqual(["127.0.0.2", "127.0.0.3"]);
  // the Established line does not repeat the failure before it (BIRD was not up yet); no key twice
  expect((await rr.until("session state", { peer: "127.0.0.2", to: "Established" }))[0]).not.toHaveProperty(
    "reason",
  );
  expect(rr.duplicated).toEqual([]);
  expect(await rr.stop()).toBe(0);
}, 60_000);
