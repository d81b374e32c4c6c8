// `why PREFIX --peer X`: for each path of a prefix, whether the peer is sent it and, when not, the
// rule that keeps it back. Replayed through the engine with real session machines and a fake clock.
import { describe, expect, it } from "vitest";
import { parseConfig, Replay } from "../helpers/replay.js";

const CONFIG = `
reflector id 100.64.255.1 as 64512 cluster 203.0.113.250
filter edge {"exportV4":[{"action":"Reject","cidr":"198.18.9.0/24","matchOperator":"Equal"}]}
peer a 127.0.7.1 client
peer b 127.0.7.2 client add-path both add-path-max 1
peer n 127.0.7.3 non-client
peer n2 127.0.7.4 non-client
peer e 127.0.7.5 ebgp as 65100 filters edge
peer off 127.0.7.6 client
`;

/** The events replayed; then, unless `settle` is false, everything due within the hour. */
function run(events: string[], settle = true): Replay {
  const r = new Replay(parseConfig(CONFIG));
  for (const p of r.config.peers) if (!p.later) r.input({ type: "add", config: p.config });
  for (const line of events) r.event(line);
  if (settle) r.settle();
  return r;
}

describe("why", () => {
  const r = run([
    "0 connect a",
    "0 connect b add-path",
    "0 connect n",
    "0 connect n2",
    "0 connect e",
    "1500 announce a 198.18.9.0/24 nh 203.0.113.1 lp 200",
    "1500 announce n 198.18.9.0/24 nh 203.0.113.3",
  ]);
  const why = (peer: string) => r.engine.why("198.18.9.0/24", peer);

  it("sent, and the path that lost is not, to a peer without ADD-PATH", () => {
    expect(why("127.0.7.3")).toEqual([
      "path from 127.0.7.1, the best: sent at 1970-01-01T00:00:01.000Z",
      "path from 127.0.7.3: its own; sent back with the group's stream only where it is one of the group's paths, and it drops it (ORIGINATOR_ID)",
    ]);
    expect(why("127.0.7.1")[1]).toBe(
      "path from 127.0.7.3: not sent: not the best path, and this peer gets only the best (no ADD-PATH)",
    );
  });

  it("split horizon, the ADD-PATH limit, an export rule, a session that is not up, a prefix nobody sent", () => {
    expect(why("127.0.7.4")[1]).toBe(
      "path from 127.0.7.3: not sent: learned from a non-client, and this peer is one too (RFC 4456 §6)",
    );
    expect(why("127.0.7.2")).toEqual([
      "path from 127.0.7.1, the best: sent at 1970-01-01T00:00:01.000Z",
      "path from 127.0.7.3: not sent: not among the best 1 (the ADD-PATH limit)",
    ]);
    expect(why("127.0.7.5")[0]).toBe(
      "path from 127.0.7.1, the best: not sent: its BGPFilter export rule 1 rejects it",
    );
    expect(why("127.0.7.6")).toEqual([
      "the session with 127.0.7.6 is Connect, not Established: nothing is sent to it",
    ]);
    expect(r.engine.why("198.18.10.0/24", "127.0.7.1")[0]).toMatch(/^no path of 198\.18\.10\.0\/24 is held/);
    expect(r.engine.why("198.18.9.0/24", "127.0.7.99")).toEqual(["127.0.7.99 is not a peer"]);
  });

  it("a change not flushed yet goes out at the next flush; a stale path says so", () => {
    const s = run(
      [
        "0 connect a gr=60",
        "0 connect n",
        "1500 announce a 198.18.9.0/24 nh 203.0.113.1",
        "2000 lose a",
        "2500 tick",
      ],
      false,
    );
    expect(s.engine.why("198.18.9.0/24", "127.0.7.3")).toEqual([
      "path from 127.0.7.1, the best: sent at 1970-01-01T00:00:01.000Z (stale: kept from its session that went down)",
    ]);
    // announced and not flushed yet (the flush waits 10 ms)
    const t = run(["0 connect a", "0 connect n", "2100 announce a 198.18.30.0/24 nh 203.0.113.1"], false);
    expect(t.engine.why("198.18.30.0/24", "127.0.7.3")).toEqual([
      "path from 127.0.7.1, the best: changed: goes out at the next flush",
    ]);
    t.event("2200 tick");
    expect(t.engine.why("198.18.30.0/24", "127.0.7.3")).toEqual([
      "path from 127.0.7.1, the best: sent at 1970-01-01T00:00:02.000Z",
    ]);
    // a peer that comes later was sent it with its table, when it came
    t.event("3000 connect n2");
    t.settle();
    expect(t.engine.why("198.18.30.0/24", "127.0.7.4")).toEqual([
      "path from 127.0.7.1, the best: sent at 1970-01-01T00:00:03.000Z",
    ]);
  });

  // `routes` shows each path's age: from when it came with these attributes.
  it("a path's time: kept by an identical re-announcement, moved by a change", () => {
    const t = run(["0 connect a", "0 connect n", "2500 announce a 198.18.31.0/24 nh 203.0.113.1"], false);
    const since = () => t.engine.rib.time(t.engine.rib.get("ipv4", "198.18.31.0/24")?.paths[0]?.since ?? -1);
    expect(since()).toBe(2000);
    t.event("4000 announce a 198.18.31.0/24 nh 203.0.113.1");
    expect(since()).toBe(2000);
    t.event("7300 announce a 198.18.31.0/24 nh 203.0.113.1 lp 300");
    expect(since()).toBe(7000);
  });
});
