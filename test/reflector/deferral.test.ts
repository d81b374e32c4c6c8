// RFC 4724 §4.1 selection deferral after our start (issue 14): clients keep our routes across our
// restart until our End-of-RIB, so we send no table until the peers that can still send have
// sent theirs, or the deferral time runs out. Time is faked: every wait here is the clock's.
import type { Duplex } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { OpenMessage, UpdateMessage } from "../../src/bgp/index.js";
import { type Connector, socketPair } from "../../src/fsm/index.js";
import { clientOf } from "../../src/reflector/defaults.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { peerOpen } from "../fsm/helpers.js";
import { RawPeer } from "../helpers/raw-peer.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
});
let rr: Reflector | undefined;
afterEach(() => {
  rr?.stop();
  rr = undefined;
  vi.useRealTimers();
});

/** Our connects: to a scripted peer where one is listening, else refused (a Node with no speaker). */
const listening = new Map<string, (ours: Duplex) => void>();
const connector: Connector = (cfg) => {
  const [ours, theirs] = socketPair();
  const answer = listening.get(cfg.peerAddress);
  setImmediate(() => {
    if (answer) {
      ours.emit("connect");
      answer(theirs);
    } else {
      ours.destroy();
    }
  });
  return ours;
};

const caps = peerOpen().capabilities; // they end with graceful restart for IPv4
const open = (id: string, gr: "gr" | "plain" | "restarting"): OpenMessage =>
  peerOpen({
    bgpId: id,
    holdTime: 90,
    capabilities:
      gr === "plain"
        ? caps.slice(0, -1)
        : gr === "gr"
          ? caps
          : [
              ...caps.slice(0, -1),
              { ...caps.at(-1)!, restartFlags: 0x8 } as OpenMessage["capabilities"][number],
            ],
  });

const route = (prefix: string, nextHop: string): UpdateMessage => ({
  type: "UPDATE",
  withdrawn: [],
  attributes: { origin: "igp", asPath: [], nextHop, localPref: 100 },
  nlri: [prefix],
});
const EOR: UpdateMessage = { type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] };
const updates = (p: RawPeer) => p.received.filter((m): m is UpdateMessage => m.type === "UPDATE");
const hasEor = (p: RawPeer) => updates(p).some((u) => u.endOfRib);

/** Lets in-memory sockets and timers run for `ms` of fake time. */
const run = (ms = 1) => vi.advanceTimersByTimeAsync(ms);

/** A peer that we connect to (it listens), answering our OPEN with its own and a KEEPALIVE. */
async function peer(address: string, gr: "gr" | "plain" | "restarting"): Promise<RawPeer> {
  let raw: RawPeer | undefined;
  listening.set(address, (theirs) => {
    raw = new RawPeer(theirs);
  });
  rr!.addPeer({ ...clientOf(rr!.config), families: ["ipv4"], peerAddress: address });
  await run();
  if (!raw) throw new Error(`no connection to ${address}`);
  const r = raw as RawPeer;
  r.send(open(address, gr));
  r.send({ type: "KEEPALIVE" });
  await run();
  expect(rr!.peer(address)?.session.state).toBe("Established");
  return r;
}

const reflector = (selectionDeferral: number) => {
  listening.clear();
  rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, selectionDeferral }, connector);
  return rr;
};

describe("selection deferral after our start", () => {
  it("waits for the End-of-RIB of a peer whose capability lists no family of its own (a helper, as FRR)", async () => {
    reflector(30);
    const helperOpen = peerOpen({
      bgpId: "127.0.60.10",
      holdTime: 90,
      capabilities: [
        ...caps.slice(0, -1),
        { ...caps.at(-1)!, families: [] } as OpenMessage["capabilities"][number],
      ],
    });
    let raw: RawPeer | undefined;
    listening.set("127.0.60.10", (theirs) => {
      raw = new RawPeer(theirs);
    });
    rr!.addPeer({ ...clientOf(rr!.config), families: ["ipv4"], peerAddress: "127.0.60.10" });
    await run();
    raw!.send(helperOpen);
    raw!.send({ type: "KEEPALIVE" });
    await run(5000);
    expect(hasEor(raw!)).toBe(false);
    raw!.send(route("198.18.62.0/24", "203.0.113.10"));
    raw!.send(EOR);
    await run();
    expect(hasEor(raw!)).toBe(true);
  });

  it("waits for every graceful-restart peer's End-of-RIB, then sends whole tables", async () => {
    reflector(30);
    const a = await peer("127.0.60.1", "gr");
    const b = await peer("127.0.60.2", "gr");
    a.send(route("198.18.60.0/24", "203.0.113.1"));
    a.send(EOR);
    await run(5000);
    expect(updates(a)).toEqual([]);
    expect(updates(b)).toEqual([]);
    b.send(route("198.18.61.0/24", "203.0.113.2"));
    b.send(EOR);
    await run();
    // the whole table first, End-of-RIB last
    const got = updates(b);
    expect(got.at(-1)?.endOfRib).toBeTruthy();
    expect(got.flatMap((u) => u.nlri)).toEqual(expect.arrayContaining(["198.18.60.0/24", "198.18.61.0/24"]));
    expect(hasEor(a)).toBe(true);
  });

  it("does not wait for a peer without graceful restart; waits 3 s at most for one restarting too (R bit)", async () => {
    reflector(30);
    const g = await peer("127.0.60.3", "gr");
    const p = await peer("127.0.60.4", "plain");
    g.send(EOR);
    await run();
    expect(hasEor(g) && hasEor(p)).toBe(true);
    rr!.stop();
    // FRR sets R for a while after its own start, yet sends its routes a second later
    reflector(30);
    const h = await peer("127.0.60.3", "gr");
    await peer("127.0.60.4", "restarting");
    h.send(EOR);
    await run(2900);
    expect(hasEor(h)).toBe(false);
    await run(200);
    expect(hasEor(h)).toBe(true);
    rr!.stop();
    // and the same peer with graceful restart does hold it up, until the deferral time
    reflector(30);
    const k = await peer("127.0.60.3", "gr");
    await peer("127.0.60.4", "gr");
    k.send(EOR);
    await run(29_000);
    expect(hasEor(k)).toBe(false);
    await run(1001);
    expect(hasEor(k)).toBe(true);
  });

  it("does not wait for a peer it cannot reach (a Node with no speaker), but does for a passive one", async () => {
    reflector(30);
    const g = await peer("127.0.60.5", "gr");
    rr!.addPeer({ ...clientOf(rr!.config), families: ["ipv4"], peerAddress: "127.0.60.6" });
    g.send(EOR);
    await run();
    expect(rr!.peer("127.0.60.6")?.session.state).toBe("Active");
    expect(hasEor(g)).toBe(true);
    rr!.stop();

    reflector(30);
    const h = await peer("127.0.60.5", "gr");
    rr!.addPeer({
      ...clientOf(rr!.config),
      families: ["ipv4"],
      peerAddress: "127.0.60.7",
      passive: true,
    });
    h.send(EOR);
    await run(5000);
    expect(hasEor(h)).toBe(false); // the passive peer may still connect
    await run(25_001);
    expect(hasEor(h)).toBe(true);
  });

  it("our OPENs set Restart State during the deferral, and not after it", async () => {
    reflector(30);
    const restartFlags = (p: RawPeer) => {
      const o = p.received.find((m) => m.type === "OPEN") as OpenMessage;
      return (o.capabilities.find((c) => c.code === 64) as { restartFlags: number }).restartFlags;
    };
    const g = await peer("127.0.60.8", "gr");
    expect(restartFlags(g) & 0x8).toBe(0x8);
    g.send(EOR);
    await run();
    expect(hasEor(g)).toBe(true);
    const later = await peer("127.0.60.9", "gr");
    expect(restartFlags(later) & 0x8).toBe(0);
    expect(restartFlags(later) & 0x4).toBe(0x4); // RFC 8538 N bit
  });
});
