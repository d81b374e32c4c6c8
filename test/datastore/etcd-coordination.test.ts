// The assignment's coordination on a real etcd 3.4 (127.0.40.11): the writer's election when a
// candidate's campaign lease is lost.
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { EtcdCoordination } from "../../src/datastore/etcd-coordination.js";
import { Etcd, waitFor } from "../helpers/lab.js";

const etcd = new Etcd("127.0.40.11");
const started: EtcdCoordination[] = [];
afterAll(async () => {
  for (const c of started) await c.stop();
  etcd.stop();
});

const ELECTION = "/calico/routereflector/v1/election/assignment-writer";
/**
 * The campaign keys, each with its candidate and its lease: etcd3 names a key by its lease ID in
 * decimal, etcdctl takes it in hex (and JSON's numbers would lose its low bits).
 */
const candidates = () =>
  (
    (
      JSON.parse(etcd.ctl("get", "--prefix", ELECTION, "-w", "json")) as {
        kvs?: { key: string; value: string }[];
      }
    ).kvs ?? []
  ).map((kv) => ({
    name: Buffer.from(kv.value, "base64").toString(),
    lease: BigInt(Buffer.from(kv.key, "base64").toString().split("/").at(-1) as string).toString(16),
  }));

describe("EtcdCoordination's election", () => {
  it("a candidate whose campaign lease is lost stands again, and its old campaign never makes it writer", async () => {
    etcd.start();
    const start = async (name: string) => {
      const c = new EtcdCoordination({ hosts: etcd.endpoint }, name, 6, pino({ level: "silent" }));
      started.push(c);
      await c.start();
      await waitFor(() => candidates().some((k) => k.name === name), 10_000, `${name}'s campaign`);
      return c;
    };
    const a = await start("a");
    await waitFor(() => a.writer, 10_000, "a elected");
    const b = await start("b");
    const c = await start("c");
    // b's campaign lease goes (as when b's keepalives stop for its TTL): b stands again, now after c
    const stale = (b as unknown as { campaign: NodeJS.EventEmitter }).campaign;
    etcd.ctl("lease", "revoke", candidates().find((k) => k.name === "b")?.lease as string);
    await waitFor(
      () =>
        (b as unknown as { campaign: unknown }).campaign !== stale &&
        candidates().some((k) => k.name === "b"),
      10_000,
      "b standing again",
    );
    // a leaves: c is first now. b's old campaign, waiting on a, sees it go too and says elected.
    const staleSaid = new Promise((resolve) => stale.once("elected", resolve));
    await a.stop();
    await staleSaid;
    await waitFor(() => c.writer, 10_000, "c elected");
    expect(b.writer).toBe(false);
    // and b stands with one campaign, not two
    expect(
      candidates()
        .map((k) => k.name)
        .sort(),
    ).toEqual(["b", "c"]);
  });
});
