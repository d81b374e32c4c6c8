// RFC 4271 §6.8 connection collision resolution as a pure function over the two connections'
// states: which one goes, once the peer's BGP identifier is known.
import { ipv4Number } from "../bgp/index.js";
import type { FsmStateName } from "./types.js";

/** What the rule looks at of one connection: its state, and whether we opened it. */
export interface Contender {
  state: FsmStateName;
  outbound: boolean;
}

/**
 * Which of two connections to the same peer is closed with Cease / Connection Collision
 * Resolution, or undefined while the rule cannot decide yet. Against an Established session the
 * new connection goes. Between two in OpenSent or OpenConfirm, the one opened by the speaker with
 * the higher BGP identifier survives (compared as unsigned 4-octet integers); until the peer's
 * identifier is known (its OPEN arrived on either), nothing is decided.
 */
export function collisionLoser(
  main: Contender,
  rival: Contender,
  localId: string,
  peerId: string | undefined,
): "main" | "rival" | undefined {
  if (main.state === "Established") return "rival";
  const open = (c: Contender) => c.state === "OpenSent" || c.state === "OpenConfirm";
  if (!peerId || !open(main) || !open(rival)) return undefined;
  const localWins = ipv4Number(localId) > ipv4Number(peerId);
  // the survivor is the connection the higher identifier opened
  return rival.outbound === localWins ? "main" : "rival";
}
