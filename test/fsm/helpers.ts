import type { OpenMessage } from "../../src/bgp/index.js";
import { initialState, step } from "../../src/fsm/machine.js";
import type { FsmAction, FsmInput, FsmState, FsmStateName, SessionConfig } from "../../src/fsm/types.js";

export const CFG: SessionConfig = {
  localAs: 64512,
  routerId: "203.0.113.1",
  peerAs: 64512,
  holdTime: 90,
  connectRetryTime: 5,
  passive: false,
  idleHoldTime: 1,
  maxIdleHoldTime: 60,
  families: ["ipv4", "ipv6"],
  gracefulRestart: { restartTime: 120 },
};

export function peerOpen(over: Partial<OpenMessage> = {}): OpenMessage {
  return {
    type: "OPEN",
    version: 4,
    myAs: 64512,
    holdTime: 30,
    bgpId: "203.0.113.2",
    capabilities: [
      { code: 1, name: "multiprotocol", afi: 1, safi: 1 },
      { code: 65, name: "four-octet-as", asn: 64512 },
      {
        code: 64,
        name: "graceful-restart",
        restartFlags: 0,
        restartTime: 90,
        families: [{ afi: 1, safi: 1, flags: 0x80 }],
      },
    ],
    ...over,
  };
}

/** A machine with a fake clock: `at` is the current time in ms. */
export class Harness {
  s: FsmState;
  at = 1_000_000;
  constructor(readonly cfg: SessionConfig = CFG) {
    this.s = initialState(cfg);
  }
  feed(input: FsmInput): FsmAction[] {
    return step(this.s, this.cfg, input, this.at);
  }
  advance(seconds: number): FsmAction[] {
    this.at += seconds * 1000;
    return this.feed({ type: "Tick" });
  }
  /** Drives a fresh machine into a state along the usual path. */
  static in(state: FsmStateName, cfg: SessionConfig = CFG): Harness {
    const h = new Harness(cfg);
    if (state === "Idle") return h;
    h.feed({ type: "Start" });
    if (state === "Connect") return h;
    if (state === "Active") {
      h.feed({ type: "TcpFailed" });
      return h;
    }
    h.feed({ type: "TcpUp" });
    if (state === "OpenSent") return h;
    h.feed({ type: "Message", message: peerOpen() });
    if (state === "OpenConfirm") return h;
    h.feed({ type: "Message", message: { type: "KEEPALIVE" } });
    return h;
  }
}

export const kinds = (actions: FsmAction[]) =>
  actions.map((a) =>
    a.type === "Send"
      ? `Send ${a.message.type}${a.message.type === "NOTIFICATION" ? ` ${a.message.code}/${a.message.subcode}` : ""}`
      : a.type,
  );
