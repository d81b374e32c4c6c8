// The session driver over in-memory socket pairs: our session against a scripted peer, or
// against another of our sessions. Time is faked: hold and keepalive timers run in milliseconds.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { encodeMessage, makeContext, type OpenMessage } from "../../src/bgp/index.js";
import { type PeerConfig, Session, socketPair } from "../../src/fsm/index.js";
import { RawPeer } from "../helpers/raw-peer.js";
import { reliability } from "../helpers/reliability.js";
import { CFG, peerOpen } from "./helpers.js";

const PEER: PeerConfig = { ...CFG, peerAddress: "127.0.0.2", peerPort: 179, holdTime: 9, passive: true };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Our passive session with a scripted peer connected to it. */
function withRawPeer(cfg: PeerConfig = PEER) {
  const [ours, theirs] = socketPair();
  const states: string[] = [];
  const session = new Session(cfg, { stateChange: (_f, to) => states.push(to) });
  session.start();
  session.accept(ours);
  return { session, peer: new RawPeer(theirs), states };
}

async function establish(peer: RawPeer, open: OpenMessage = peerOpen({ holdTime: 9 })): Promise<void> {
  await peer.next("OPEN");
  peer.send(open);
  peer.send({ type: "KEEPALIVE" });
  await peer.next("KEEPALIVE");
  await vi.advanceTimersByTimeAsync(1);
}

describe("session driver", () => {
  it("reaches Established with a peer that sends OPEN and KEEPALIVE", async () => {
    const { session, peer, states } = withRawPeer();
    await establish(peer);
    expect(session.state).toBe("Established");
    expect(states).toEqual(["Active", "OpenSent", "OpenConfirm", "Established"]);
  });

  it("a state change carries the failure that sent the session to Idle, and no later one repeats it", async () => {
    const [ours, theirs] = socketPair();
    const changes: { to: string; reason?: string }[] = [];
    const session = new Session(PEER, {
      stateChange: (_f, to, reason) => changes.push(reason === undefined ? { to } : { to, reason }),
    });
    session.start();
    session.accept(ours);
    const first = new RawPeer(theirs);
    await first.next("OPEN");
    first.send({ type: "NOTIFICATION", code: 6, subcode: 4, dataHex: "" });
    await vi.advanceTimersByTimeAsync(1);
    expect(session.state).not.toBe("Established");
    // a second connection, once the idle hold is over, comes up
    await vi.advanceTimersByTimeAsync(60_000);
    const [ours2, theirs2] = socketPair();
    session.accept(ours2);
    await establish(new RawPeer(theirs2));
    expect(session.state).toBe("Established");
    const idle = changes.find((c) => c.to === "Idle");
    expect(idle?.reason).toBeDefined();
    expect(changes.filter((c) => c.to !== "Idle").every((c) => c.reason === undefined)).toBe(true);
  });

  it("sends keepalives every third of the hold time", async () => {
    const { peer } = withRawPeer();
    await establish(peer);
    const before = peer.count("KEEPALIVE");
    for (let i = 0; i < 10; i++) {
      peer.send({ type: "KEEPALIVE" }); // keep our hold timer from expiring
      await vi.advanceTimersByTimeAsync(3000);
    }
    expect(peer.count("KEEPALIVE") - before).toBe(10);
  });

  it("expires the hold timer of a silent peer with NOTIFICATION 4/0", async () => {
    const { session, peer } = withRawPeer();
    await establish(peer);
    await vi.advanceTimersByTimeAsync(8900);
    expect(session.state).toBe("Established");
    await vi.advanceTimersByTimeAsync(200);
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([4, 0]);
    expect(session.state).toBe("Idle");
  });

  // Issue 15, finding 6: RFC 4271 §4.2 restarts the hold timer on whole messages, not octets.
  it("a peer that trickles octets of a message it never completes is dropped by its hold timer", async (ctx) => {
    reliability(ctx, {
      scenario: "A peer that trickles a message it never completes",
      load: "one session, hold time 9 s, fake clock",
      fault: "one octet of an UPDATE every 2 s",
      checked: "Hold Timer Expired 9 s after the last whole message (RFC 4271 §4.2)",
    });
    const { session, peer } = withRawPeer();
    await establish(peer);
    const update = encodeMessage(
      {
        type: "UPDATE",
        withdrawn: [],
        attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.9" },
        nlri: ["198.18.0.0/24"],
      },
      makeContext(),
    );
    // one octet every 2 s, each well within the 9 s hold time; 9 s after the last KEEPALIVE
    for (let i = 0; i < 4; i++) {
      peer.sendRaw(update.subarray(i, i + 1));
      await vi.advanceTimersByTimeAsync(2000);
    }
    expect(session.state).toBe("Established");
    peer.sendRaw(update.subarray(4, 5));
    await vi.advanceTimersByTimeAsync(2000);
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([4, 0]);
    expect(session.state).toBe("Idle");
  });

  it("a message completed by its last octet restarts the hold timer", async () => {
    const { session, peer } = withRawPeer();
    await establish(peer);
    const keepalive = encodeMessage({ type: "KEEPALIVE" }, makeContext());
    for (let round = 0; round < 3; round++) {
      peer.sendRaw(keepalive.subarray(0, 10));
      await vi.advanceTimersByTimeAsync(4000);
      peer.sendRaw(keepalive.subarray(10));
      await vi.advanceTimersByTimeAsync(4000);
    }
    expect(session.state).toBe("Established");
  });

  // Issue 14: a peer whose session dropped and that reconnects at once is not refused (IdleHold).
  it("a peer that reconnects while IdleHold runs is accepted at once", async () => {
    const { session, peer } = withRawPeer();
    await establish(peer);
    peer.socket.destroy();
    await vi.advanceTimersByTimeAsync(1);
    expect(session.state).toBe("Idle");
    const [ours, theirs] = socketPair();
    session.accept(ours);
    const again = new RawPeer(theirs);
    await establish(again);
    expect(session.state).toBe("Established");
  });

  // Issue 15: nothing behind one peer's UPDATE can throw past its session.
  it("a fault while handling an UPDATE resets that session with Cease / Out of Resources, and nothing else", async () => {
    const [ours, theirs] = socketPair();
    const session = new Session(PEER, {
      update: () => {
        throw new Error("a bug in the RIB");
      },
    });
    session.start();
    session.accept(ours);
    const peer = new RawPeer(theirs);
    await establish(peer);
    peer.send({
      type: "UPDATE",
      withdrawn: [],
      attributes: { origin: "igp", asPath: [], nextHop: "203.0.113.9" },
      nlri: ["198.18.0.0/24"],
    });
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([6, 8]);
    expect(session.lastError).toMatch(/internal error handling an UPDATE: a bug in the RIB/);
  });

  it("answers a malformed UPDATE with the NOTIFICATION RFC 7606 calls for", async () => {
    const { session, peer } = withRawPeer();
    await establish(peer);
    // Total Path Attribute Length overruns the message: 3/1.
    const bad = Buffer.from("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF001B02000000FF00000000", "hex");
    bad.writeUInt16BE(bad.length, 16);
    peer.sendRaw(bad);
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([3, 1]);
    expect(session.state).toBe("Idle");
  });

  it("answers a bad marker with 1/1 and an unknown type with 1/3", async () => {
    for (const [mutate, want] of [
      [(b: Buffer) => (b[0] = 0), [1, 1]],
      [(b: Buffer) => (b[18] = 9), [1, 3]],
    ] as const) {
      const { peer } = withRawPeer();
      await establish(peer);
      const msg = encodeMessage({ type: "KEEPALIVE" }, makeContext());
      mutate(msg);
      peer.sendRaw(msg);
      const n = await peer.next("NOTIFICATION");
      expect([n.code, n.subcode]).toEqual(want);
    }
  });

  it("answers a peer with the wrong AS with Bad Peer AS", async () => {
    const { peer } = withRawPeer();
    await peer.next("OPEN");
    peer.send(peerOpen({ myAs: 65099, capabilities: [] }));
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode]).toEqual([2, 2]);
  });

  it("stops with Cease / Administrative Shutdown carrying the shutdown communication", async () => {
    const { session, peer } = withRawPeer();
    await establish(peer);
    session.stop("maintenance window");
    const n = await peer.next("NOTIFICATION");
    expect([n.code, n.subcode, n.shutdownCommunication]).toEqual([6, 2, "maintenance window"]);
  });

  it("delivers UPDATEs only once Established, and keeps the session while they flow", async () => {
    const [ours, theirs] = socketPair();
    const seen: number[] = [];
    const session = new Session(PEER, { update: (frame) => void seen.push(frame.length) });
    session.start();
    session.accept(ours);
    const peer = new RawPeer(theirs);
    await establish(peer);
    for (let i = 0; i < 2000; i++) {
      peer.send({ type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] });
    }
    // Reading goes in slices with the event loop between them: step the clock until they are done.
    for (let i = 0; i < 100 && seen.length < 2000; i++) await vi.advanceTimersByTimeAsync(10);
    expect(seen).toHaveLength(2000);
    expect(session.state).toBe("Established");
  });
});

describe("connection collision (RFC 4271 §6.8)", () => {
  /** Two of our sessions, each connecting to the other at once over in-memory pairs. */
  async function collide(idA: string, idB: string) {
    const cfgA: PeerConfig = { ...CFG, routerId: idA, peerAddress: "b", peerPort: 179, holdTime: 9 };
    const cfgB: PeerConfig = { ...CFG, routerId: idB, peerAddress: "a", peerPort: 179, holdTime: 9 };
    let a!: Session;
    let b!: Session;
    const connect = (to: () => Session) => () => {
      const [near, far] = socketPair();
      // Both connects complete before either side sees the other's: a true collision.
      queueMicrotask(() => {
        near.emit("connect");
        queueMicrotask(() => to().accept(far));
      });
      return near;
    };
    const notes: string[] = [];
    a = new Session(
      cfgA,
      { notificationSent: (n) => notes.push(`A ${n.code}/${n.subcode}`) },
      connect(() => b),
    );
    b = new Session(
      cfgB,
      { notificationSent: (n) => notes.push(`B ${n.code}/${n.subcode}`) },
      connect(() => a),
    );
    a.start();
    b.start();
    // The in-memory streams deliver between timer steps: step the clock until both settle.
    for (let i = 0; i < 100 && (a.state !== "Established" || b.state !== "Established"); i++) {
      await vi.advanceTimersByTimeAsync(50);
    }
    return { a, b, notes };
  }

  it("keeps one connection, closing the other with Cease 6/7, whichever identifier is higher", async () => {
    for (const [idA, idB] of [
      ["203.0.113.1", "203.0.113.2"],
      ["203.0.113.9", "203.0.113.2"],
    ]) {
      const { a, b, notes } = await collide(idA!, idB!);
      expect([a.state, b.state]).toEqual(["Established", "Established"]);
      // Each side resolves the collision the same way: the same connection is closed by both.
      expect(notes.filter((n) => n.endsWith("6/7")).sort()).toEqual(["A 6/7", "B 6/7"]);
      a.stop();
      b.stop();
    }
  });
});
