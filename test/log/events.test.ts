// The log event catalog: one fixed message per event, and lines that carry the event's name and
// fields at its level.
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EVENTS, logEvent } from "../../src/log/index.js";
import { duplicateKeys } from "../helpers/cli.js";

function capture(level = "debug") {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level }, out), lines };
}

describe("log events", () => {
  it("every event has a message of its own", () => {
    const messages = Object.values(EVENTS).map((e) => e.msg);
    expect(new Set(messages).size).toBe(messages.length);
  });

  it("a line is the event's name, its fields and its fixed message, at its level", () => {
    const { log, lines } = capture();
    logEvent(log, "peerAdded", {
      peer: "127.0.0.2",
      name: "Global_127_0_0_2",
      type: "global",
      from: "bgppeers/x",
    });
    logEvent(log, "sessionState", { peer: "127.0.0.2", from: "OpenConfirm", to: "Established" }, "info");
    expect(lines[0]).toMatchObject({
      level: 30,
      event: "peerAdded",
      msg: "peer added",
      peer: "127.0.0.2",
      from: "bgppeers/x",
    });
    // a state change that matters more is logged at the level given
    expect(lines[1]).toMatchObject({
      level: 30,
      event: "sessionState",
      msg: "session state",
      to: "Established",
    });
    logEvent(log, "sessionState", { peer: "127.0.0.2", from: "Connect", to: "Active" });
    expect(lines[2]).toMatchObject({ level: 20 });
  });

  it("a field the logger already carries is not written twice", () => {
    const raw: string[] = [];
    const log = pino({ level: "debug" }, { write: (l: string) => raw.push(l) });
    logEvent(log.child({ collection: "bgppeers" }), "kubernetesWatchError", {
      collection: "bgppeers",
      code: 410,
    });
    expect(duplicateKeys(raw[0]!)).toEqual([]);
    expect(JSON.parse(raw[0]!)).toMatchObject({ collection: "bgppeers", code: 410 });
    expect(duplicateKeys('{"a":1,"b":{"a":2},"a":3}')).toEqual(["a"]);
  });
});
