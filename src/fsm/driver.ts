// Runs the session machine over a socket: framing, decoding, timers, writes. With listener.ts,
// the only code of ours that touches connections. A socket is any Duplex (net.Socket, or an
// in-memory pair in tests and the scale benchmark).
import net from "node:net";
import type { Duplex } from "node:stream";
import {
  type BgpError,
  CeaseSubcode,
  DEFAULT_CONTEXT,
  decodeMessage,
  ErrorCode,
  encodeMessage,
  Framer,
  KEEPALIVE,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MessageType,
  type NotificationMessage,
  sessionReset,
  shutdownData,
} from "../bgp/index.js";
import { collisionLoser } from "./collision.js";
import { initialState, nextDeadline, notification, step, updateErrorInput } from "./machine.js";
import { connectWith, md5Before, setGtsm, setMinTtlFd, setTtlFd } from "./sockopt.js";
import type {
  FsmAction,
  FsmInput,
  FsmState,
  FsmStateName,
  GracefulRestartInfo,
  Negotiated,
  SessionConfig,
} from "./types.js";

export interface PeerConfig extends SessionConfig {
  peerAddress: string;
  peerPort: number;
  localAddress?: string;
  localPort?: number;
  /** RFC 2385 TCP MD5 signature key */
  password?: string;
  /** outgoing IP TTL / hop limit */
  ttl?: number;
  /** RFC 5082 GTSM: segments from the peer must arrive with at least this TTL (255 - hops + 1) */
  minTtl?: number;
}

export interface SessionEvents {
  stateChange?(from: FsmStateName, to: FsmStateName, reason?: string): void;
  established?(negotiated: Negotiated): void;
  /** with gracefulRestart, the peer's routes are to be kept as stale (RFC 4724) */
  down?(reason: string, gracefulRestart?: GracefulRestartInfo): void;
  /** An UPDATE (whole message, a view valid until return). Return an error to act on per RFC 7606. */
  update?(frame: Buffer, negotiated: Negotiated): BgpError | undefined;
  routeRefresh?(afi: number, safi: number, subtype: number): void;
  notificationSent?(n: NotificationMessage): void;
  notificationReceived?(n: NotificationMessage): void;
}

/** Messages handled per slice before yielding to the event loop, so timers never starve. */
const SLICE_MESSAGES = 512;
const SLICE_MS = 5;

/** One TCP connection and the machine that runs on it. */
interface Connection {
  socket: Duplex;
  machine: FsmState;
  framer: Framer;
  outbound: boolean;
  paused: boolean;
  scheduled: boolean;
  /** octets the kernel has taken from this socket, as of the last timer (RFC 9687) */
  sent: number;
}

export type Connector = (cfg: PeerConfig) => Duplex;

export const tcpConnector: Connector = (cfg) => {
  const options = {
    host: cfg.peerAddress,
    port: cfg.peerPort,
    ...(cfg.localAddress ? { localAddress: cfg.localAddress } : {}),
    ...(cfg.localPort ? { localPort: cfg.localPort } : {}),
  };
  if (cfg.password === undefined && cfg.ttl === undefined && cfg.minTtl === undefined)
    return net.connect(options);
  // Options the SYN must already carry are set between Node's bind and connect.
  const md5 = cfg.password === undefined ? undefined : md5Before(cfg.peerAddress, cfg.password);
  return connectWith(options, (fd, v6) => {
    md5?.(fd, v6);
    if (cfg.ttl !== undefined) setTtlFd(fd, v6, cfg.ttl);
    if (cfg.minTtl !== undefined) setMinTtlFd(fd, v6, cfg.minTtl);
  });
};

export class Session {
  /** the machine that owns the session; while no connection is up it waits in Idle/Connect/Active */
  private machine: FsmState;
  private conn: Connection | undefined;
  /** a second connection during a collision (RFC 4271 §6.8) */
  private rival: Connection | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;
  /** octets written, and the octets the socket still holds (backpressure) */
  bytesOut = 0;
  bytesIn = 0;

  constructor(
    readonly cfg: PeerConfig,
    private readonly events: SessionEvents = {},
    private readonly connector: Connector = tcpConnector,
    clock: () => number = Date.now,
  ) {
    this.machine = initialState(cfg);
    this.clock = clock;
  }

  get state(): FsmStateName {
    return this.machine.state;
  }

  get negotiated(): Negotiated | undefined {
    return this.machine.negotiated;
  }

  get lastError(): string | undefined {
    return this.machine.lastError;
  }

  /** Octets queued in the socket and not yet taken by the kernel. */
  get writableLength(): number {
    return this.conn?.socket.writableLength ?? 0;
  }

  start(): void {
    this.feed(this.machine, { type: "Start" });
  }

  /**
   * Cease / Administrative Shutdown (or the subcode given) with an RFC 8203/9003 message.
   * `retain`: a planned restart, after which the peer keeps our routes (see machine.ts).
   */
  stop(message?: string, subcode: number = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, retain = false): void {
    const n = notification(
      ErrorCode.CEASE,
      subcode,
      message === undefined ? undefined : shutdownData(message),
    );
    if (this.rival) this.drop(this.rival, n);
    this.feed(this.machine, { type: "Stop", notification: n, retain });
    this.clearTimer();
  }

  /** Resets the session for a local reason (maximum prefixes, ...), damped like any failure. */
  close(n: NotificationMessage, reason: string): void {
    this.feed(this.machine, { type: "Close", notification: n, reason });
  }

  /** Writes encoded UPDATEs; only while Established. Returns false when the socket is full. */
  write(chunk: Buffer): boolean {
    if (this.machine.state !== "Established" || !this.conn) return false;
    this.bytesOut += chunk.length;
    return this.conn.socket.write(chunk);
  }

  /** Calls back when the socket has room again. */
  onDrain(cb: () => void): void {
    this.conn?.socket.once("drain", cb);
  }

  /** A connection the listener accepted from this peer's address. */
  accept(socket: Duplex): void {
    const m = this.machine;
    // RFC 5082: a connection whose SYN came from too far away is dropped; from here on,
    // segments with a lower TTL never reach us.
    if (this.cfg.minTtl !== undefined && socket instanceof net.Socket) {
      if (!setGtsm(socket, this.cfg.ttl ?? 255, this.cfg.minTtl)) {
        socket.destroy();
        return;
      }
    }
    // A reconnect while we wait out IdleHold is accepted (machine.ts, Incoming); a session we
    // stopped stays Idle and refuses it (RFC 4271 §8.2.2).
    if (m.state === "Idle") this.feed(m, { type: "Incoming" });
    if (m.state === "Idle") {
      socket.destroy();
      return;
    }
    if (m.state === "Connect" || m.state === "Active") {
      // A connect of ours still under way goes on as the rival: both sides must see both
      // connections for the collision rule to pick the same one.
      if (this.conn && !this.rival) {
        this.rival = this.conn;
        this.rival.machine = { ...initialState(this.cfg), state: "Active" };
      } else if (this.conn) {
        this.discard(this.conn);
      }
      this.conn = this.attach(socket, m, false);
      this.feed(m, { type: "TcpUp" }, this.conn);
      return;
    }
    if (this.rival || m.state === "Established") {
      // RFC 4271 §6.8: a collision with an Established session closes the new connection.
      this.refuse(socket);
      return;
    }
    // OpenSent/OpenConfirm: run the new connection up to its OPEN, then resolve the collision.
    const machine: FsmState = { ...initialState(this.cfg), state: "Active" };
    this.rival = this.attach(socket, machine, false);
    this.feed(machine, { type: "TcpUp" }, this.rival);
  }

  private refuse(socket: Duplex): void {
    const n = notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION);
    socket.on("error", () => {});
    socket.end(encodeMessage(n, DEFAULT_CONTEXT));
  }

  private attach(socket: Duplex, machine: FsmState, outbound: boolean): Connection {
    const c: Connection = {
      socket,
      machine,
      framer: new Framer(),
      outbound,
      paused: false,
      scheduled: false,
      sent: 0,
    };
    if (socket instanceof net.Socket) {
      socket.setNoDelay(true);
      socket.setKeepAlive(false);
    }
    socket.on("data", (chunk: Buffer) => this.onData(c, chunk));
    socket.on("error", () => {}); // 'close' follows and carries the failure
    socket.on("close", () => this.onClose(c));
    if (outbound) socket.once("connect", () => this.feed(c.machine, { type: "TcpUp" }, c));
    return c;
  }

  private onData(c: Connection, chunk: Buffer): void {
    this.bytesIn += chunk.length;
    // RFC 4271 §4.2: whole messages restart the hold timer, not octets: a peer that trickles a
    // message it never completes is not alive. A chunk that completes one counts at once, even
    // when the message waits behind others to be handled.
    const had = c.framer.whole;
    c.framer.push(chunk);
    if (!had && c.framer.whole) this.feed(c.machine, { type: "Received" }, c);
    this.drain(c);
  }

  /** Handles buffered messages in slices, yielding to the event loop between them. */
  private drain(c: Connection): void {
    const started = performance.now();
    let n = 0;
    for (let frame = c.framer.next(); frame !== undefined; frame = c.framer.next()) {
      if (!Buffer.isBuffer(frame)) {
        this.feed(c.machine, { type: "Error", error: frame }, c);
        return;
      }
      this.handle(c, frame);
      if (!this.live(c)) return;
      if (++n >= SLICE_MESSAGES || performance.now() - started > SLICE_MS) {
        if (!c.paused) {
          c.paused = true;
          c.socket.pause();
        }
        if (!c.scheduled) {
          c.scheduled = true;
          setImmediate(() => {
            c.scheduled = false;
            this.drain(c);
          });
        }
        return;
      }
    }
    if (c.paused) {
      c.paused = false;
      c.socket.resume();
    }
  }

  private live(c: Connection): boolean {
    return c === this.conn || c === this.rival;
  }

  private handle(c: Connection, frame: Buffer): void {
    const type = frame[18];
    const negotiated = c.machine.negotiated;
    if (type === MessageType.UPDATE && c.machine.state === "Established" && negotiated) {
      this.feed(c.machine, { type: "Update" }, c);
      // Without a RIB to hand it to, the UPDATE is still decoded so that malformed ones are answered.
      let error: BgpError | undefined;
      try {
        error = this.events.update
          ? this.events.update(frame, negotiated)
          : decodeMessage(frame, negotiated.rx).error;
      } catch (e) {
        // A fault behind one peer's UPDATE (in the RIB or the reflector) must not take the process
        // and every other session with it: this session is reset, Cease / Out of Resources.
        const why = `internal error handling an UPDATE: ${e instanceof Error ? e.message : String(e)}`;
        error = sessionReset(ErrorCode.CEASE, CeaseSubcode.OUT_OF_RESOURCES, why);
      }
      const input = updateErrorInput(error);
      if (input) this.feed(c.machine, input, c);
      return;
    }
    const { message, error } = decodeMessage(frame, negotiated?.rx ?? DEFAULT_CONTEXT);
    if (error) {
      this.feed(c.machine, { type: "Error", error }, c);
      return;
    }
    if (!message) return;
    if (message.type === "UPDATE") {
      this.feed(c.machine, { type: "Update" }, c);
      return;
    }
    if (message.type === "NOTIFICATION") this.events.notificationReceived?.(message);
    this.feed(c.machine, { type: "Message", message }, c);
  }

  private onClose(c: Connection): void {
    if (c === this.rival) {
      this.rival = undefined;
      return;
    }
    if (c !== this.conn) return;
    if (this.rival && this.machine.state !== "Established") {
      // The connection in hand is gone, but a second one is on its way up: carry on with it.
      this.conn = this.rival;
      this.machine = this.rival.machine;
      this.rival = undefined;
      return;
    }
    this.conn = undefined;
    this.feed(this.machine, { type: "TcpFailed" });
  }

  /** Feeds one input to a machine and carries out what it asks. */
  private feed(machine: FsmState, input: FsmInput, c?: Connection): void {
    const before = machine.state;
    const actions = step(machine, this.cfg, input, this.clock());
    const conn = c ?? (machine === this.machine ? this.conn : undefined);
    for (const a of actions) this.act(machine, a, conn);
    if (machine === this.machine && before !== machine.state) {
      // the reason is the failure that sent it to Idle; later states do not repeat it
      this.events.stateChange?.(
        before,
        machine.state,
        machine.state === "Idle" ? machine.lastError : undefined,
      );
    }
    if (before === "OpenSent" && machine.state === "OpenConfirm") this.collide();
    if (machine === this.rival?.machine && machine.state === "Idle") this.discard(this.rival);
    this.schedule();
  }

  private act(machine: FsmState, a: FsmAction, c: Connection | undefined): void {
    switch (a.type) {
      case "Connect": {
        if (this.conn) this.discard(this.conn);
        this.conn = this.attach(this.connector(this.cfg), machine, true);
        return;
      }
      case "Send": {
        if (!c) return;
        const bytes = a.message.type === "KEEPALIVE" ? KEEPALIVE : encodeMessage(a.message, DEFAULT_CONTEXT);
        if (a.message.type === "NOTIFICATION") this.events.notificationSent?.(a.message);
        this.bytesOut += bytes.length;
        c.socket.write(bytes);
        return;
      }
      case "Disconnect":
        if (c) this.discard(c);
        return;
      case "Established":
        if (c && a.negotiated.extendedMessage) c.framer.maxLength = MAX_EXTENDED_MESSAGE_LENGTH;
        this.events.established?.(a.negotiated);
        return;
      case "Down":
        this.events.down?.(a.reason, a.gracefulRestart);
        return;
      case "RouteRefresh":
        this.events.routeRefresh?.(a.afi, a.safi, a.subtype);
        return;
    }
  }

  /** Ends a connection: what was written is flushed, then the socket is closed. */
  private discard(c: Connection): void {
    if (c === this.conn) this.conn = undefined;
    if (c === this.rival) this.rival = undefined;
    c.socket.removeAllListeners("data");
    c.socket.removeAllListeners("connect");
    c.socket.removeAllListeners("close");
    c.socket.on("error", () => {});
    c.socket.end();
    setTimeout(() => c.socket.destroy(), 1000).unref();
  }

  private drop(c: Connection, n: NotificationMessage): void {
    this.events.notificationSent?.(n);
    c.socket.write(encodeMessage(n, DEFAULT_CONTEXT));
    this.discard(c);
  }

  /**
   * RFC 4271 §6.8, once the peer's BGP identifier is known (an OPEN arrived on either
   * connection): of two connections, the one opened by the speaker with the higher identifier
   * survives, whether the other is in OpenConfirm or still in OpenSent; against an Established
   * session the new connection goes. The loser gets Cease / Connection Collision Resolution.
   */
  private collide(): void {
    const main = this.conn;
    const rival = this.rival;
    if (!main || !rival) return;
    const peerId = main.machine.peerOpen?.bgpId ?? rival.machine.peerOpen?.bgpId;
    const loser = collisionLoser(
      { state: main.machine.state, outbound: main.outbound },
      { state: rival.machine.state, outbound: rival.outbound },
      this.cfg.routerId,
      peerId,
    );
    if (!loser) return;
    const [lose, keep] = loser === "main" ? [main, rival] : [rival, main];
    this.drop(lose, notification(ErrorCode.CEASE, CeaseSubcode.CONNECTION_COLLISION_RESOLUTION));
    this.conn = keep;
    this.rival = undefined;
    this.machine = keep.machine;
  }

  private schedule(): void {
    this.clearTimer();
    let at = nextDeadline(this.machine);
    const r = this.rival ? nextDeadline(this.rival.machine) : undefined;
    if (r !== undefined && (at === undefined || r < at)) at = r;
    if (at === undefined) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, at - this.clock()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.checkSent();
    if (this.rival) this.feed(this.rival.machine, { type: "Tick" }, this.rival);
    this.feed(this.machine, { type: "Tick" });
  }

  /**
   * RFC 9687: a peer that keeps its session up (it sends KEEPALIVEs) but reads nothing would hold
   * what we queue for it forever. Before each timer the machine is told whether what was queued
   * reached the kernel since (or nothing is queued); its send hold deadline does the rest.
   */
  private checkSent(): void {
    const c = this.conn;
    if (!c || this.machine.state !== "Established") return;
    const s = c.socket;
    // what the socket was given, less what it still holds: what the kernel took
    const sent = ((s as net.Socket).bytesWritten ?? 0) - s.writableLength;
    if (s.writableLength > 0 && sent === c.sent) return;
    c.sent = sent;
    this.feed(this.machine, { type: "Sent" });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
