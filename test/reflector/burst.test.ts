// Sessions coming up in a burst (a rollout, a reflector back after a restart, a new assignment):
// each one's table goes to it alone. It must not make every member already up be written a
// flush, or a burst of N sessions is N writes to each of N members.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  Framer,
  type UpdateMessage,
} from "../../src/bgp/index.js";
import { negotiate } from "../../src/fsm/index.js";
import type { Negotiated } from "../../src/fsm/types.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Engine } from "../../src/reflector/engine.js";
import { peerOpen } from "../fsm/helpers.js";

const SELF = { routerId: "203.0.113.250", localAs: 64512 };
const N = 400;

/** A member's side of the wire: every write kept, and the prefixes it holds when read. */
class Wire {
  writes: Buffer[] = [];
  get writableLength(): number {
    return 0;
  }
  write(chunk: Buffer): void {
    this.writes.push(Buffer.from(chunk));
  }
  held(): Set<string> {
    const framer = new Framer(false);
    const held = new Set<string>();
    for (const w of this.writes) framer.push(w);
    for (let m = framer.next(); m !== undefined; m = framer.next()) {
      if (!Buffer.isBuffer(m)) throw m;
      const u = decodeMessage(m, DEFAULT_CONTEXT).message as UpdateMessage;
      for (const p of u.withdrawn) held.delete(p as string);
      for (const p of u.nlri) held.add(p as string);
    }
    return held;
  }
}

const address = (i: number) => `127.0.${(i + 10) >> 8}.${(i + 10) & 255}`;
const host = (i: number) => `100.64.${(i + 1) >> 8}.${(i + 1) & 255}`;
const prefix = (i: number) => `198.18.${i >> 8}.${i & 255}/32`;

describe("a burst of sessions coming up", () => {
  it("writes each member its table, and what the others announced at the next flush, not a flush per session", () => {
    let now = 1_000_000;
    const engine = new Engine({ ...SELF }, now);
    const wires: Wire[] = [];
    /** each member's writes once its own table was written */
    const own: number[] = [];
    for (let i = 0; i < N; i++) {
      const config = { ...clientOf(SELF), peerAddress: address(i) };
      engine.handle(now, { type: "add", config });
      const negotiated = negotiate(config, peerOpen({ bgpId: host(i) })) as Negotiated;
      const wire = new Wire();
      wires.push(wire);
      // one after the other within the same flush delay, each announcing its route once up
      now += 0.1;
      engine.handle(now, { type: "up", peer: address(i), negotiated, transport: wire });
      own.push(wire.writes.length);
      const frame = encodeMessage(
        {
          type: "UPDATE",
          withdrawn: [],
          attributes: { origin: "igp", asPath: [], nextHop: host(i), localPref: 100 },
          nlri: [prefix(i)],
        },
        negotiated.rx,
      );
      engine.handle(now, { type: "update", peer: address(i), frame });
    }
    // Before the flush, the members already up were written a flush only when the group's table
    // had to be made anew (a quarter of it changed since it was made: with the table growing from
    // nothing, at most about log(N) / log(1.25) times), not once per session that came up.
    const flushes = wires.map((w, i) => w.writes.length - own[i]!);
    const bound = Math.ceil(Math.log(N) / Math.log(1.25)) + 2;
    console.log(
      `flushes written to the first member during the burst: ${flushes[0]} (bound ${bound}, N ${N})`,
    );
    expect(flushes[0]).toBeLessThanOrEqual(bound);
    // The flush at the deadline writes each member once.
    const written = wires.map((w) => w.writes.length);
    for (let at = engine.deadline(); at !== undefined && at <= now + 1000; at = engine.deadline()) {
      now = Math.max(now, at);
      engine.handle(now, { type: "tick" });
    }
    for (const [i, w] of wires.entries()) expect(w.writes.length - written[i]!).toBeLessThanOrEqual(1);
    // and every member holds every other member's route
    wires.forEach((w, i) => {
      const held = w.held();
      for (let j = 0; j < N; j++) if (j !== i) expect(held.has(prefix(j))).toBe(true);
    });
  });
});
