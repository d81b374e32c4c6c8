// The RFC 4271 §8 machine, state by state and event by event, with a fake clock.
import { describe, expect, it } from "vitest";
import { BgpError } from "../../src/bgp/index.js";
import { nextDeadline, notification } from "../../src/fsm/machine.js";
import type { FsmInput, FsmStateName } from "../../src/fsm/types.js";
import { CFG, Harness, kinds, peerOpen } from "./helpers.js";

const openError = new BgpError({ action: "session-reset", code: 2, subcode: 6, reason: "bad hold time" });

interface Row {
  state: FsmStateName;
  input: FsmInput;
  next: FsmStateName;
  actions: string[];
  sentence: string;
}

const KEEPALIVE: FsmInput = { type: "Message", message: { type: "KEEPALIVE" } };
const NOTIF: FsmInput = { type: "Message", message: notification(6, 2) };
const RR: FsmInput = { type: "Message", message: { type: "ROUTE-REFRESH", afi: 1, safi: 1, subtype: 0 } };
const OPEN: FsmInput = { type: "Message", message: peerOpen() };
const ERR: FsmInput = { type: "Error", error: openError };

const table: Row[] = [
  {
    state: "Idle",
    input: { type: "Start" },
    next: "Connect",
    actions: ["Connect"],
    sentence: "Idle starts by connecting out",
  },
  {
    state: "Idle",
    input: { type: "TcpUp" },
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "Idle refuses a connection",
  },
  { state: "Idle", input: OPEN, next: "Idle", actions: [], sentence: "Idle ignores messages" },
  {
    state: "Idle",
    input: { type: "Stop" },
    next: "Idle",
    actions: [],
    sentence: "Idle stays Idle when stopped",
  },
  {
    state: "Connect",
    input: { type: "TcpUp" },
    next: "OpenSent",
    actions: ["Send OPEN"],
    sentence: "Connect sends OPEN once the connection is up",
  },
  {
    state: "Connect",
    input: { type: "TcpFailed" },
    next: "Active",
    actions: [],
    sentence: "Connect falls back to Active when the connection fails",
  },
  {
    state: "Connect",
    input: { type: "Stop" },
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "Connect drops the attempt when stopped",
  },
  {
    state: "Active",
    input: { type: "TcpUp" },
    next: "OpenSent",
    actions: ["Send OPEN"],
    sentence: "Active sends OPEN on an accepted connection",
  },
  {
    state: "Active",
    input: { type: "Stop" },
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "Active goes Idle when stopped",
  },
  {
    state: "OpenSent",
    input: OPEN,
    next: "OpenConfirm",
    actions: ["Send KEEPALIVE"],
    sentence: "OpenSent answers a good OPEN with KEEPALIVE",
  },
  {
    state: "OpenSent",
    input: { type: "Message", message: peerOpen({ myAs: 65001, capabilities: [] }) },
    next: "Idle",
    actions: ["Send NOTIFICATION 2/2", "Disconnect"],
    sentence: "OpenSent answers the wrong peer AS with Bad Peer AS",
  },
  {
    state: "OpenSent",
    input: { type: "Message", message: peerOpen({ bgpId: CFG.routerId }) },
    next: "Idle",
    actions: ["Send NOTIFICATION 2/3", "Disconnect"],
    sentence: "OpenSent answers our own identifier on iBGP with Bad BGP Identifier",
  },
  {
    state: "OpenSent",
    input: KEEPALIVE,
    next: "Idle",
    actions: ["Send NOTIFICATION 5/1", "Disconnect"],
    sentence: "OpenSent answers a KEEPALIVE with an FSM error (RFC 6608 subcode 1)",
  },
  {
    state: "OpenSent",
    input: { type: "Update" },
    next: "Idle",
    actions: ["Send NOTIFICATION 5/1", "Disconnect"],
    sentence: "OpenSent answers an UPDATE with an FSM error",
  },
  {
    state: "OpenSent",
    input: NOTIF,
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "OpenSent goes Idle on a NOTIFICATION",
  },
  {
    state: "OpenSent",
    input: ERR,
    next: "Idle",
    actions: ["Send NOTIFICATION 2/6", "Disconnect"],
    sentence: "OpenSent answers a malformed OPEN with its NOTIFICATION",
  },
  {
    state: "OpenSent",
    input: { type: "TcpFailed" },
    next: "Active",
    actions: ["Disconnect"],
    sentence: "OpenSent returns to Active when the connection fails",
  },
  {
    state: "OpenSent",
    input: { type: "Stop" },
    next: "Idle",
    actions: ["Send NOTIFICATION 6/2", "Disconnect"],
    sentence: "OpenSent sends Cease when stopped",
  },
  {
    state: "OpenConfirm",
    input: KEEPALIVE,
    next: "Established",
    actions: ["Established"],
    sentence: "OpenConfirm becomes Established on KEEPALIVE",
  },
  {
    state: "OpenConfirm",
    input: OPEN,
    next: "Idle",
    actions: ["Send NOTIFICATION 5/2", "Disconnect"],
    sentence: "OpenConfirm answers a second OPEN with an FSM error",
  },
  {
    state: "OpenConfirm",
    input: { type: "Update" },
    next: "Idle",
    actions: ["Send NOTIFICATION 5/2", "Disconnect"],
    sentence: "OpenConfirm answers an UPDATE with an FSM error",
  },
  {
    state: "OpenConfirm",
    input: NOTIF,
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "OpenConfirm goes Idle on a NOTIFICATION",
  },
  {
    state: "OpenConfirm",
    input: { type: "TcpFailed" },
    next: "Idle",
    actions: ["Disconnect"],
    sentence: "OpenConfirm goes Idle when the connection fails",
  },
  {
    state: "OpenConfirm",
    input: { type: "Stop" },
    next: "Idle",
    actions: ["Send NOTIFICATION 6/2", "Disconnect"],
    sentence: "OpenConfirm sends Cease when stopped",
  },
  {
    state: "Established",
    input: KEEPALIVE,
    next: "Established",
    actions: [],
    sentence: "Established takes a KEEPALIVE quietly",
  },
  {
    state: "Established",
    input: { type: "Update" },
    next: "Established",
    actions: [],
    sentence: "Established takes an UPDATE",
  },
  {
    state: "Established",
    input: RR,
    next: "Established",
    actions: ["RouteRefresh"],
    sentence: "Established passes a ROUTE-REFRESH on",
  },
  {
    state: "Established",
    input: OPEN,
    next: "Idle",
    actions: ["Send NOTIFICATION 5/3", "Down", "Disconnect"],
    sentence: "Established answers an OPEN with an FSM error",
  },
  {
    state: "Established",
    input: NOTIF,
    next: "Idle",
    actions: ["Down", "Disconnect"],
    sentence: "Established goes down on a NOTIFICATION",
  },
  {
    state: "Established",
    input: { type: "TcpFailed" },
    next: "Idle",
    actions: ["Down", "Disconnect"],
    sentence: "Established goes down when the connection fails",
  },
  {
    state: "Established",
    input: {
      type: "Error",
      error: new BgpError({ action: "session-reset", code: 3, subcode: 1, reason: "x" }),
    },
    next: "Idle",
    actions: ["Send NOTIFICATION 3/1", "Down", "Disconnect"],
    sentence: "Established answers a malformed UPDATE with its NOTIFICATION",
  },
  {
    state: "Established",
    input: { type: "Stop" },
    next: "Idle",
    actions: ["Send NOTIFICATION 6/2", "Down", "Disconnect"],
    sentence: "Established sends Cease Administrative Shutdown when stopped",
  },
  {
    state: "Established",
    input: { type: "Close", notification: notification(6, 1), reason: "maximum prefixes" },
    next: "Idle",
    actions: ["Send NOTIFICATION 6/1", "Down", "Disconnect"],
    sentence: "Established sends Cease Maximum Prefixes when closed for too many prefixes",
  },
];

describe("transition table", () => {
  for (const row of table) {
    it(row.sentence, () => {
      const h = Harness.in(row.state);
      expect(h.s.state).toBe(row.state);
      expect(kinds(h.feed(row.input))).toEqual(row.actions);
      expect(h.s.state).toBe(row.next);
    });
  }
});

describe("timers", () => {
  it("a passive peer waits in Active and never connects", () => {
    const h = new Harness({ ...CFG, passive: true });
    expect(kinds(h.feed({ type: "Start" }))).toEqual([]);
    expect(h.s.state).toBe("Active");
    expect(kinds(h.advance(10))).toEqual([]);
  });

  it("Connect retries when the ConnectRetry timer expires", () => {
    const h = Harness.in("Connect");
    expect(kinds(h.advance(4.9))).toEqual([]);
    expect(kinds(h.advance(0.2))).toEqual(["Disconnect", "Connect"]);
  });

  it("Active connects again when the ConnectRetry timer expires", () => {
    const h = Harness.in("Active");
    expect(kinds(h.advance(5.1))).toEqual(["Connect"]);
    expect(h.s.state).toBe("Connect");
  });

  it("the hold time is the smaller of the two, keepalives at a third of it", () => {
    const h = Harness.in("Established");
    expect(h.s.negotiated?.holdTime).toBe(30);
    expect(kinds(h.advance(10))).toEqual(["Send KEEPALIVE"]);
    expect(kinds(h.advance(10))).toEqual(["Send KEEPALIVE"]);
  });

  it("the hold timer expires without traffic and sends Hold Timer Expired", () => {
    const h = Harness.in("Established");
    h.advance(10);
    h.advance(10);
    expect(kinds(h.advance(10.1))).toEqual(["Send NOTIFICATION 4/0", "Down", "Disconnect"]);
  });

  it("RFC 9687: the send hold timer is a deadline; what we sent reaching the peer restarts it", () => {
    const cfg = { ...CFG, sendHoldTime: 60 };
    const h = Harness.in("Established", cfg);
    const at = h.at;
    expect(nextDeadline(h.s)).toBeLessThanOrEqual(at + 60_000);
    expect(h.s.sendHoldAt).toBe(at + 60_000);
    // the peer keeps the session up but reads nothing: after 60 s, Send Hold Timer Expired (8/0)
    for (let i = 0; i < 5; i++) {
      h.advance(10);
      h.feed({ type: "Message", message: { type: "KEEPALIVE" } });
    }
    h.at += 5_000;
    h.feed({ type: "Sent" }); // something went out: the deadline moves on
    expect(h.s.sendHoldAt).toBe(h.at + 60_000);
    for (let i = 0; i < 6; i++) {
      h.advance(i < 5 ? 10 : 9);
      h.feed({ type: "Message", message: { type: "KEEPALIVE" } });
    }
    expect(kinds(h.advance(1.1))).toEqual(["Send NOTIFICATION 8/0", "Down", "Disconnect"]);
    expect(h.s.state).toBe("Idle");
    expect(h.s.sendHoldAt).toBeUndefined();
  });

  it("RFC 9687: twice the hold time and at least 8 minutes by default; none with a hold time of 0", () => {
    const h = Harness.in("Established");
    expect(h.s.sendHoldAt).toBe(h.at + 480_000);
    const zero = Harness.in("Established", { ...CFG, holdTime: 0 });
    expect(zero.s.sendHoldAt).toBeUndefined();
  });

  it("each whole message received restarts the hold timer", () => {
    const h = Harness.in("Established");
    for (let i = 0; i < 10; i++) {
      h.at += 20_000;
      h.feed({ type: "Received" });
    }
    expect(kinds(h.feed({ type: "Tick" }))).not.toContain("Send NOTIFICATION 4/0");
    expect(h.s.state).toBe("Established");
  });

  it("a hold time of 0 sends no keepalives and never expires", () => {
    const h = Harness.in("OpenSent");
    h.feed({ type: "Message", message: peerOpen({ holdTime: 0 }) });
    h.feed(KEEPALIVE);
    expect(nextDeadline(h.s)).toBeUndefined();
    expect(kinds(h.advance(3600))).toEqual([]);
  });

  it("OpenSent waits the large hold time (4 minutes) for the OPEN", () => {
    const h = Harness.in("OpenSent");
    expect(kinds(h.advance(239))).toEqual([]);
    expect(kinds(h.advance(2))).toEqual(["Send NOTIFICATION 4/0", "Disconnect"]);
  });

  it("after a failure the machine restarts itself once IdleHold has passed", () => {
    const h = Harness.in("OpenConfirm");
    h.feed({ type: "TcpFailed" });
    expect(h.s.state).toBe("Idle");
    expect(kinds(h.advance(h.s.idleHold - 0.1))).toEqual([]);
    expect(kinds(h.advance(0.2))).toEqual(["Connect"]);
  });

  it("IdleHold doubles with each failure up to the maximum: a flapping peer is damped", () => {
    const h = Harness.in("Established");
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      h.feed({ type: "TcpFailed" });
      waits.push(h.s.idleHold);
      h.advance(h.s.idleHold);
      h.feed({ type: "TcpUp" });
      h.feed(OPEN);
      h.feed(KEEPALIVE);
    }
    expect(waits).toEqual([2, 4, 8, 16, 32, 60, 60, 60]);
  });

  it("IdleHold starts over after the session has been stable longer than the maximum", () => {
    const h = Harness.in("Established");
    h.feed({ type: "TcpFailed" });
    h.advance(h.s.idleHold);
    h.feed({ type: "TcpUp" });
    h.feed(OPEN);
    h.feed(KEEPALIVE);
    for (let i = 0; i < 8; i++) {
      h.at += 10_000;
      h.feed(KEEPALIVE);
    }
    h.feed({ type: "TcpFailed" });
    expect(h.s.idleHold).toBe(CFG.idleHoldTime);
  });

  it("ConnectRetry doubles while our connects fail, up to the maximum, and starts over once one succeeds", () => {
    // A node that is down (refusing, or not answering) is tried again ever more slowly; it can
    // connect to us meanwhile at any time (Active), and a node that comes back does so itself.
    const cfg = { ...CFG, maxConnectRetryTime: 60 };
    const h = Harness.in("Connect", cfg);
    const connects: number[] = [h.at];
    for (let i = 0; i < 16 && connects.length < 9; i++) {
      if (i % 2 === 0) h.feed({ type: "TcpFailed" }); // refused at once; every other one times out
      const wait = nextDeadline(h.s)! - h.at;
      h.at += wait;
      if (kinds(h.feed({ type: "Tick" })).includes("Connect")) connects.push(h.at);
    }
    const gaps = connects.slice(1).map((t, i) => (t - connects[i]!) / 1000);
    expect(gaps).toEqual([5, 10, 20, 40, 60, 60, 60, 60]);
    // the peer connects while we wait: the session comes up at once, and the next failure is
    // retried after ConnectRetryTime again
    h.feed({ type: "TcpFailed" });
    h.feed({ type: "TcpUp" });
    expect(h.s.state).toBe("OpenSent");
    h.feed({ type: "TcpFailed" });
    expect(h.s.state).toBe("Active");
    expect((nextDeadline(h.s)! - h.at) / 1000).toBe(5);
  });

  it("without a maximum ConnectRetry stays at ConnectRetryTime", () => {
    const h = Harness.in("Connect");
    for (let i = 0; i < 4; i++) {
      h.feed({ type: "TcpFailed" });
      expect((nextDeadline(h.s)! - h.at) / 1000).toBe(5);
      h.advance(5);
    }
  });

  it("a stopped machine does not restart itself", () => {
    const h = Harness.in("Established");
    h.feed({ type: "Stop" });
    expect(nextDeadline(h.s)).toBeUndefined();
  });
});

describe("graceful restart (receiving speaker, RFC 4724)", () => {
  it("keeps the routes of a GR-capable peer whose connection drops", () => {
    const h = Harness.in("Established");
    const down = h.feed({ type: "TcpFailed" }).find((a) => a.type === "Down");
    expect(down).toHaveProperty("gracefulRestart.restartTime", 90);
  });

  it("keeps them when the hold timer expires", () => {
    const h = Harness.in("Established");
    const down = h.advance(31).find((a) => a.type === "Down");
    expect(down).toHaveProperty("gracefulRestart.restartTime", 90);
  });

  it("does not keep them on a NOTIFICATION without the N bit (RFC 8538)", () => {
    const h = Harness.in("Established");
    expect(h.feed(NOTIF).find((a) => a.type === "Down")).not.toHaveProperty("gracefulRestart");
  });

  it("keeps them on a NOTIFICATION when both sides set the N bit, but not on Hard Reset", () => {
    const cfg = { ...CFG, gracefulRestart: { restartTime: 120, notification: true } };
    const open = peerOpen();
    const gr = open.capabilities.find((c) => c.code === 64)!;
    (gr as { restartFlags: number }).restartFlags = 0x4;
    for (const [subcode, kept] of [
      [2, true],
      [9, false],
    ] as const) {
      const h = Harness.in("OpenSent", cfg);
      h.feed({ type: "Message", message: open });
      h.feed(KEEPALIVE);
      const down = h
        .feed({ type: "Message", message: notification(6, subcode) })
        .find((a) => a.type === "Down");
      expect(down !== undefined && "gracefulRestart" in down).toBe(kept);
    }
  });

  it("does not keep routes of a peer that did not announce the capability", () => {
    const h = Harness.in("OpenSent");
    h.feed({
      type: "Message",
      message: peerOpen({ capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }] }),
    });
    h.feed(KEEPALIVE);
    expect(h.feed({ type: "TcpFailed" }).find((a) => a.type === "Down")).not.toHaveProperty(
      "gracefulRestart",
    );
  });
});

/** Established with a peer that announces graceful restart, with the N bit when `n`. */
function grEstablished(n: boolean): Harness {
  const cfg = { ...CFG, gracefulRestart: { restartTime: 120, notification: true } };
  const open = peerOpen();
  const gr = open.capabilities.find((c) => c.code === 64)!;
  (gr as { restartFlags: number }).restartFlags = n ? 0x4 : 0;
  const h = Harness.in("OpenSent", cfg);
  h.feed({ type: "Message", message: open });
  h.feed(KEEPALIVE);
  return h;
}
const shutdown = notification(6, 2, Buffer.from([3, 0x62, 0x79, 0x65])); // Admin Shutdown, "bye"
const sent = (actions: ReturnType<Harness["feed"]>) =>
  actions.flatMap((a) => (a.type === "Send" && a.message.type === "NOTIFICATION" ? [a.message] : []));

describe("stopping so that the peer keeps our routes, or drops them (RFC 4724, RFC 8538)", () => {
  it("a planned restart with graceful restart but no N bit sends no NOTIFICATION: the connection just ends", () => {
    const h = grEstablished(false);
    const out = h.feed({ type: "Stop", notification: shutdown, retain: true });
    expect(sent(out)).toEqual([]);
    expect(kinds(out)).toEqual(["Down", "Disconnect"]);
  });

  it("with the N bit it sends Cease / Administrative Reset with the message, which the peer keeps routes on", () => {
    const out = grEstablished(true).feed({ type: "Stop", notification: shutdown, retain: true });
    expect(sent(out)).toEqual([notification(6, 4, Buffer.from([3, 0x62, 0x79, 0x65]))]);
  });

  it("a stop for good with the N bit is a Hard Reset carrying the Cease's code, subcode and data", () => {
    const out = grEstablished(true).feed({ type: "Stop", notification: shutdown });
    expect(sent(out)).toEqual([notification(6, 9, Buffer.from([6, 2, 3, 0x62, 0x79, 0x65]))]);
  });

  it("without the N bit a stop for good is the Cease itself; without graceful restart, so is a planned restart", () => {
    expect(sent(grEstablished(false).feed({ type: "Stop", notification: shutdown }))).toEqual([shutdown]);
    const h = Harness.in("OpenSent");
    h.feed({
      type: "Message",
      message: peerOpen({ capabilities: [{ code: 65, name: "four-octet-as", asn: 64512 }] }),
    });
    h.feed(KEEPALIVE);
    expect(sent(h.feed({ type: "Stop", notification: shutdown, retain: true }))).toEqual([shutdown]);
  });
});

describe("a reconnect while IdleHold runs (issue 14)", () => {
  it("is accepted at once: Incoming takes the machine to Active", () => {
    const h = Harness.in("Established");
    h.feed({ type: "TcpFailed" });
    expect(h.s.state).toBe("Idle");
    h.feed({ type: "Incoming" });
    expect(h.s.state).toBe("Active");
    expect(kinds(h.feed({ type: "TcpUp" }))).toEqual(["Send OPEN"]);
  });

  it("a session we stopped stays Idle", () => {
    const h = Harness.in("Established");
    h.feed({ type: "Stop" });
    h.feed({ type: "Incoming" });
    expect(h.s.state).toBe("Idle");
  });
});
