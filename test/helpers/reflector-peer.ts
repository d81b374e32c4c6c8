// Scripted peers of a Reflector: the peer's side of a connection the reflector accepted, driven
// message by message with a RawPeer.
import type { OpenMessage } from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import type { Reflector } from "../../src/reflector/reflector.js";
import { waitFor } from "./lab.js";
import { RawPeer } from "./raw-peer.js";

/** A connection to the configured peer `address` over the in-memory transport. */
export function accepted(rr: Reflector, address: string): RawPeer {
  const [ours, theirs] = socketPair();
  const raw = new RawPeer(theirs);
  rr.peer(address)?.session.accept(ours);
  return raw;
}

/** Answers the reflector's OPEN with `open` and a KEEPALIVE; resolves once Established. */
export async function establish(
  rr: Reflector,
  address: string,
  raw: RawPeer,
  open: OpenMessage,
): Promise<RawPeer> {
  await raw.next("OPEN");
  raw.send(open);
  raw.send({ type: "KEEPALIVE" });
  await waitFor(() => rr.peer(address)?.session.state === "Established", 2000, `${address} Established`);
  return raw;
}
