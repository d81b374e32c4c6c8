// RFC 4724 §4.1 selection deferral after our (re)start: clients keep our routes across our
// restart until our End-of-RIB, then drop what we have not sent again, so after a start we send
// nothing until the peers that can still send have sent theirs, or the deferral time runs out.
// Pure: time comes in as `now`; its deadline goes out.
import type { Neighbor } from "./neighbor.js";

/** how long the selection deferral waits for the End-of-RIB of a peer that is restarting too */
export const RESTARTING_PEER_WAIT_MS = 3000;

export interface DeferralEnd {
  timedOut: boolean;
  /** the peers still waited for when the time ran out */
  waitingFor: string[];
}

export class Deferral {
  /** in the deferral: clients get no table (and no End-of-RIB) yet */
  active: boolean;
  private readonly until: number;
  /** peers that set Restart State, waited for until RESTARTING_PEER_WAIT_MS after they came up */
  private readonly restarting = new Set<Neighbor>();

  constructor(seconds: number, now: number) {
    this.active = seconds > 0;
    this.until = now + seconds * 1000;
  }

  /** A peer's session came up during the deferral. */
  up(n: Neighbor): void {
    if (n.negotiated?.gracefulRestart?.restarting) this.restarting.add(n);
  }

  /** A peer that is gone. */
  forget(n: Neighbor): void {
    this.restarting.delete(n);
  }

  /** When the deferral next has something to decide: its end, or a restarting peer's wait. */
  deadline(): number | undefined {
    if (!this.active) return undefined;
    let at = this.until;
    for (const n of this.restarting) at = Math.min(at, n.upAt + RESTARTING_PEER_WAIT_MS);
    return at;
  }

  /** Whether the deferral ends now: no peer left to wait for, or its time ran out. */
  check(neighbors: Iterable<Neighbor>, now: number): DeferralEnd | undefined {
    if (!this.active) return undefined;
    for (const n of [...this.restarting])
      if (now >= n.upAt + RESTARTING_PEER_WAIT_MS) this.restarting.delete(n);
    const timedOut = now >= this.until;
    const waitingFor: string[] = [];
    for (const n of neighbors) {
      if (!this.awaited(n, now)) continue;
      if (!timedOut) return undefined;
      waitingFor.push(n.address);
    }
    this.active = false;
    this.restarting.clear();
    return { timedOut, waitingFor };
  }

  /**
   * Whether the deferral waits for this peer. Clients keep our routes across our restart until
   * our End-of-RIB, then drop what we have not sent again: so we wait for what the others will
   * send. RFC 4724 §4.1 waits for the End-of-RIB of every peer except those that do not do
   * graceful restart and those that set Restart State (they are restarting too and may wait for
   * ours). A peer that set it is waited for all the same, but only RESTARTING_PEER_WAIT_MS after
   * its session came up: FRR sets it for a while after its own start, yet sends its routes and
   * End-of-RIB about a second after the session is up, and without them the others would lose
   * its routes; a peer that does wait for ours costs that long, not a deadlock.
   * And we wait only for a peer that can still send: one whose connection is being set up;
   * one not connected now (Active) that will connect to us (passive towards it) or that has a
   * speaker (a connection with it came up, and it closed it: FRR refuses us while it starts
   * over); not one whose session we ended (Idle: an error, maximum prefixes). A
   * peer whose every connect was refused has no speaker behind its address (a Node gone) and is
   * not waited for. With our Restart State bit set, no peer waits for our End-of-RIB before
   * sending its own, so the wait cannot deadlock; the deferral time bounds the rest.
   */
  private awaited(n: Neighbor, now: number): boolean {
    const s = n.state;
    if (s === "Connect" || s === "OpenSent" || s === "OpenConfirm") return true;
    // Idle: we ended the session (an error, maximum prefixes) and wait out IdleHold
    if (s === "Idle") return false;
    const negotiated = n.negotiated;
    if (s !== "Established" || !negotiated) return n.config.passive || n.answered;
    const gr = negotiated.gracefulRestart;
    if (!gr) return false;
    if (gr.restarting && now - n.upAt >= RESTARTING_PEER_WAIT_MS) return false;
    // Every family of the session: a peer that only helps others restart (FRR's default) lists
    // no family of its own in the capability, yet sends End-of-RIB for each.
    return negotiated.families.some((family) => n.endOfRib[family] <= n.eorAtUp[family]);
  }
}
