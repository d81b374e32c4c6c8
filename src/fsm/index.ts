// The session layer: the RFC 4271 machine, OPEN negotiation, and the socket driver.

export { type Contender, collisionLoser } from "./collision.js";
export { type Connector, type PeerConfig, Session, type SessionEvents, tcpConnector } from "./driver.js";
export { type Acceptor, Listener, normaliseAddress } from "./listener.js";
export {
  initialState,
  LARGE_HOLD_TIME,
  nextDeadline,
  notification,
  step,
  updateErrorInput,
} from "./machine.js";
export { socketPair } from "./memory-transport.js";
export { buildOpen, localCapabilities, negotiate } from "./negotiate.js";
export { md5sig, setMd5Key } from "./sockopt.js";
export type * from "./types.js";
