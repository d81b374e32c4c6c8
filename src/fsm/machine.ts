// The RFC 4271 §8 finite state machine as a step function: step(state, input, now) mutates the
// state and returns what to do. No sockets, timers or clocks here: timers are deadlines in the
// state, and the caller sends a Tick when the earliest one (nextDeadline) has passed.
//
//   Idle --Start--> Connect (or Active when passive) --TcpUp--> OpenSent --OPEN--> OpenConfirm
//   OpenConfirm --KEEPALIVE--> Established; any error --> Idle, restarted after IdleHold.
import {
  type BgpError,
  CeaseSubcode,
  ErrorCode,
  FsmSubcode,
  type NotificationMessage,
  type OpenMessage,
  UpdateSubcode,
} from "../bgp/index.js";
import { buildOpen, negotiate } from "./negotiate.js";
import type { FsmAction, FsmInput, FsmState, SessionConfig } from "./types.js";

/** RFC 4271 §8: the large hold time used until the OPEN exchange settles it (4 minutes). */
export const LARGE_HOLD_TIME = 240;

export function initialState(cfg: SessionConfig): FsmState {
  return { state: "Idle", connectRetryCounter: 0, idleHold: cfg.idleHoldTime };
}

export function notification(code: number, subcode: number, data?: Buffer): NotificationMessage {
  return {
    type: "NOTIFICATION",
    code,
    subcode,
    dataHex: (data ?? Buffer.alloc(0)).toString("hex").toUpperCase(),
  };
}

/**
 * What the RIB's verdict on an UPDATE asks of the session: a reset (RFC 7606 session-reset, a
 * maximum-prefix Cease); for a family that cannot be kept, the session ends too, as RFC 4760 §7
 * allows, with UPDATE Message Error / Optional Attribute Error (RFC 7606 §7.3); the lesser
 * outcomes (treat-as-withdraw, attribute discard) leave it alone.
 */
export function updateErrorInput(error: BgpError | undefined): FsmInput | undefined {
  if (error?.action === "session-reset") return { type: "Error", error };
  if (error?.action !== "afi-safi-disable") return undefined;
  const n = notification(ErrorCode.UPDATE_MESSAGE, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, error.data);
  return { type: "Close", notification: n, reason: error.message };
}

const secs = (s: number) => s * 1000;

/** The earliest running timer, or undefined when none runs. */
export function nextDeadline(s: FsmState): number | undefined {
  let t: number | undefined;
  for (const d of [s.connectRetryAt, s.holdAt, s.keepaliveAt, s.sendHoldAt, s.idleHoldAt]) {
    if (d !== undefined && (t === undefined || d < t)) t = d;
  }
  return t;
}

/** The ConnectRetry wait, seconds. */
const connectRetry = (s: FsmState, cfg: SessionConfig) => s.connectRetry ?? cfg.connectRetryTime;

/**
 * One of our connects failed: the next waits twice as long, up to maxConnectRetryTime (RFC 4271
 * §10 suggests 120 s for ConnectRetryTime; we start lower so that a peer that starts late is
 * reached soon, and back off so that hundreds of peers that are down cost little).
 */
function connectFailed(s: FsmState, cfg: SessionConfig): void {
  const max = Math.max(cfg.connectRetryTime, cfg.maxConnectRetryTime ?? 0);
  s.connectRetry = Math.min(max, connectRetry(s, cfg) * 2);
}

function clearTimers(s: FsmState): void {
  s.connectRetryAt = undefined;
  s.holdAt = undefined;
  s.keepaliveAt = undefined;
  s.sendHoldAt = undefined;
}

/**
 * RFC 9687 §3: the SendHoldTimer runs while Established: SendHoldTime (by default twice the Hold
 * Time, at least 8 minutes, as FRR does), none when the Hold Time is 0.
 */
function restartSendHold(s: FsmState, cfg: SessionConfig, now: number): void {
  const hold = s.negotiated?.holdTime;
  s.sendHoldAt = hold ? now + secs(cfg.sendHoldTime ?? Math.max(480, 2 * hold)) : undefined;
}

/**
 * Leaves for Idle after a failure. The IdleHold wait doubles with each failure, up to the
 * maximum, unless the session had been Established for longer than that maximum (RFC 4271
 * §8.1.1 DampPeerOscillations).
 */
function fail(
  s: FsmState,
  cfg: SessionConfig,
  now: number,
  reason: string,
  out: FsmAction[],
  gr = false,
): void {
  if (s.state === "Established") {
    const gracefulRestart = gr ? s.negotiated?.gracefulRestart : undefined;
    out.push(gracefulRestart ? { type: "Down", reason, gracefulRestart } : { type: "Down", reason });
  }
  const stable = s.establishedAt !== undefined && now - s.establishedAt > secs(cfg.maxIdleHoldTime);
  s.idleHold = stable
    ? cfg.idleHoldTime
    : Math.min(cfg.maxIdleHoldTime, s.idleHold === 0 ? 1 : s.idleHold * 2);
  out.push({ type: "Disconnect" });
  clearTimers(s);
  s.state = "Idle";
  s.lastError = reason;
  s.connectRetryCounter++;
  s.establishedAt = undefined;
  s.negotiated = undefined;
  s.peerOpen = undefined;
  s.idleHoldAt = now + secs(s.idleHold);
}

/** Sends a NOTIFICATION, then fails. */
function failWith(
  s: FsmState,
  cfg: SessionConfig,
  now: number,
  n: NotificationMessage,
  reason: string,
  out: FsmAction[],
  gr = false,
): void {
  out.push({ type: "Send", message: n });
  fail(s, cfg, now, reason, out, gr);
}

/**
 * The NOTIFICATION a stop sends, if any. To keep our routes at the peer across a planned restart
 * (`retain`): with the N bit negotiated, a Cease / Administrative Reset with the same message,
 * which the peer treats as a restart (RFC 8538 §3; §5.1 lists Administrative Shutdown among the
 * subcodes that call for a Hard Reset); with graceful restart but no N bit, none at all, since
 * the peer keeps routes only when the connection simply ends (RFC 4724 §4.2). For the peer to
 * drop them: with the N bit, a Hard Reset whose data is the Cease it stands for, code, subcode
 * and data (RFC 8538 §3); otherwise the Cease itself.
 */
function stopNotification(
  s: FsmState,
  input: Extract<FsmInput, { type: "Stop" }>,
): NotificationMessage | undefined {
  const n = input.notification ?? notification(ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN);
  const gr = s.state === "Established" ? s.negotiated?.gracefulRestart : undefined;
  const data = Buffer.from(n.dataHex, "hex");
  if (input.retain && gr)
    return gr.notification
      ? notification(ErrorCode.CEASE, CeaseSubcode.ADMINISTRATIVE_RESET, data)
      : undefined;
  if (gr?.notification && !(n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET)) {
    const inner = Buffer.concat([Buffer.from([n.code, n.subcode]), data]);
    return notification(ErrorCode.CEASE, CeaseSubcode.HARD_RESET, inner);
  }
  return n;
}

/** RFC 8538 §3: with the N bit, a NOTIFICATION other than Hard Reset keeps GR routes too. */
function grOnNotification(s: FsmState, n: NotificationMessage): boolean {
  const gr = s.negotiated?.gracefulRestart;
  return Boolean(gr?.notification) && !(n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET);
}

function start(s: FsmState, cfg: SessionConfig, now: number, out: FsmAction[]): void {
  s.idleHoldAt = undefined;
  s.connectRetryAt = now + secs(connectRetry(s, cfg));
  if (cfg.passive) {
    s.state = "Active";
  } else {
    s.state = "Connect";
    out.push({ type: "Connect" });
  }
}

function connectionUp(s: FsmState, cfg: SessionConfig, now: number, out: FsmAction[]): void {
  s.connectRetryAt = undefined;
  s.connectRetry = undefined;
  out.push({ type: "Send", message: buildOpen(cfg) });
  s.holdAt = now + secs(LARGE_HOLD_TIME);
  s.state = "OpenSent";
}

function openReceived(
  s: FsmState,
  cfg: SessionConfig,
  open: OpenMessage,
  now: number,
  out: FsmAction[],
): void {
  const n = negotiate(cfg, open);
  if (!("peerId" in n)) {
    failWith(s, cfg, now, notification(n.code, n.subcode, n.data), n.message, out);
    return;
  }
  s.peerOpen = open;
  s.negotiated = n;
  out.push({ type: "Send", message: { type: "KEEPALIVE" } });
  s.state = "OpenConfirm";
  restartHold(s, now);
  s.keepaliveAt = n.keepaliveTime > 0 ? now + secs(n.keepaliveTime) : undefined;
}

function restartHold(s: FsmState, now: number): void {
  const hold = s.negotiated?.holdTime;
  if (hold === undefined) s.holdAt = now + secs(LARGE_HOLD_TIME);
  else s.holdAt = hold > 0 ? now + secs(hold) : undefined;
}

/** Event 28 and friends: a message the state does not expect (RFC 6608 subcodes). */
function unexpected(s: FsmState, cfg: SessionConfig, now: number, what: string, out: FsmAction[]): void {
  const subcode =
    s.state === "OpenSent"
      ? FsmSubcode.UNEXPECTED_IN_OPENSENT
      : s.state === "OpenConfirm"
        ? FsmSubcode.UNEXPECTED_IN_OPENCONFIRM
        : FsmSubcode.UNEXPECTED_IN_ESTABLISHED;
  failWith(s, cfg, now, notification(ErrorCode.FSM, subcode), `unexpected ${what} in ${s.state}`, out);
}

function tick(s: FsmState, cfg: SessionConfig, now: number, out: FsmAction[]): void {
  if (s.idleHoldAt !== undefined && s.idleHoldAt <= now && s.state === "Idle") {
    start(s, cfg, now, out);
    return;
  }
  if (s.holdAt !== undefined && s.holdAt <= now) {
    const gr = s.state === "Established" && s.negotiated?.gracefulRestart !== undefined;
    failWith(s, cfg, now, notification(ErrorCode.HOLD_TIMER_EXPIRED, 0), "hold timer expired", out, gr);
    return;
  }
  if (s.sendHoldAt !== undefined && s.sendHoldAt <= now && s.state === "Established") {
    failWith(s, cfg, now, notification(ErrorCode.SEND_HOLD_TIMER_EXPIRED, 0), "send hold timer expired", out);
    return;
  }
  if (s.keepaliveAt !== undefined && s.keepaliveAt <= now) {
    out.push({ type: "Send", message: { type: "KEEPALIVE" } });
    s.keepaliveAt = now + secs(s.negotiated!.keepaliveTime);
  }
  if (s.connectRetryAt !== undefined && s.connectRetryAt <= now) {
    if (s.state === "Connect") connectFailed(s, cfg);
    s.connectRetryAt = now + secs(connectRetry(s, cfg));
    if (s.state === "Connect" || (s.state === "Active" && !cfg.passive)) {
      // A connect that has not completed is abandoned and tried again.
      if (s.state === "Connect") out.push({ type: "Disconnect" });
      s.state = "Connect";
      out.push({ type: "Connect" });
    }
  }
}

/** One input; returns the actions in the order they must be carried out. */
export function step(s: FsmState, cfg: SessionConfig, input: FsmInput, now: number): FsmAction[] {
  const out: FsmAction[] = [];
  switch (input.type) {
    case "Start":
      if (s.state === "Idle") start(s, cfg, now, out);
      break;
    case "Stop": {
      const n = stopNotification(s, input);
      if (n && (s.state === "OpenSent" || s.state === "OpenConfirm" || s.state === "Established"))
        out.push({ type: "Send", message: n });
      if (s.state === "Established") out.push({ type: "Down", reason: "stopped" });
      if (s.state !== "Idle") out.push({ type: "Disconnect" });
      clearTimers(s);
      s.idleHoldAt = undefined;
      s.state = "Idle";
      s.negotiated = undefined;
      s.establishedAt = undefined;
      break;
    }
    case "Close":
      if (s.state !== "Idle") failWith(s, cfg, now, input.notification, input.reason, out);
      break;
    case "Sent":
      if (s.state === "Established") restartSendHold(s, cfg, now);
      break;
    case "Incoming":
      // RFC 4271 §8.2.2 has Idle refuse connections; with DampPeerOscillations (§8.1.1) we wait
      // out IdleHold before connecting again. A peer that reconnects meanwhile is healthy: we
      // accept it at once (as BIRD does) rather than keep it waiting for routes. Damping only
      // delays our own connects. An administratively stopped session (no IdleHold) stays Idle.
      if (s.state === "Idle" && s.idleHoldAt !== undefined) {
        s.idleHoldAt = undefined;
        s.state = "Active";
        s.connectRetryAt = now + secs(cfg.connectRetryTime);
      }
      break;
    case "TcpUp":
      if (s.state === "Connect" || s.state === "Active") connectionUp(s, cfg, now, out);
      else out.push({ type: "Disconnect" }); // no connection is wanted now
      break;
    case "TcpFailed":
      if (s.state === "Connect") {
        s.state = "Active"; // wait for the ConnectRetry timer, or for the peer to connect
        connectFailed(s, cfg);
      } else if (s.state === "OpenSent") {
        // RFC 4271 §8.2.2: back to Active, ConnectRetry restarted.
        out.push({ type: "Disconnect" });
        clearTimers(s);
        s.state = "Active";
        s.connectRetryAt = now + secs(cfg.connectRetryTime);
      } else if (s.state === "OpenConfirm" || s.state === "Established") {
        const gr = s.state === "Established" && s.negotiated?.gracefulRestart !== undefined;
        fail(s, cfg, now, "connection lost", out, gr);
      }
      break;
    case "Received":
      if (s.state === "OpenSent" || s.state === "OpenConfirm" || s.state === "Established")
        restartHold(s, now);
      break;
    case "Update":
      if (s.state === "Established") restartHold(s, now);
      else if (s.state === "OpenSent" || s.state === "OpenConfirm") unexpected(s, cfg, now, "UPDATE", out);
      break;
    case "Error":
      if (s.state === "OpenSent" || s.state === "OpenConfirm" || s.state === "Established") {
        const e = input.error;
        failWith(s, cfg, now, notification(e.code, e.subcode, e.data), e.message, out);
      } else if (s.state !== "Idle") {
        fail(s, cfg, now, input.error.message, out);
      }
      break;
    case "Tick":
      tick(s, cfg, now, out);
      break;
    case "Message":
      message(s, cfg, input.message, now, out);
      break;
  }
  return out;
}

function message(
  s: FsmState,
  cfg: SessionConfig,
  m: Extract<FsmInput, { type: "Message" }>["message"],
  now: number,
  out: FsmAction[],
): void {
  if (s.state === "Idle" || s.state === "Connect" || s.state === "Active") return;
  if (m.type === "NOTIFICATION") {
    const gr = s.state === "Established" && grOnNotification(s, m);
    fail(s, cfg, now, `NOTIFICATION received: ${m.code}/${m.subcode}`, out, gr);
    return;
  }
  switch (s.state) {
    case "OpenSent":
      if (m.type === "OPEN") openReceived(s, cfg, m, now, out);
      else unexpected(s, cfg, now, m.type, out);
      return;
    case "OpenConfirm":
      if (m.type === "KEEPALIVE") {
        s.state = "Established";
        s.establishedAt = now;
        restartHold(s, now);
        restartSendHold(s, cfg, now);
        out.push({ type: "Established", negotiated: s.negotiated! });
      } else {
        unexpected(s, cfg, now, m.type, out);
      }
      return;
    case "Established":
      if (m.type === "KEEPALIVE") {
        restartHold(s, now);
      } else if (m.type === "ROUTE-REFRESH") {
        restartHold(s, now);
        out.push({ type: "RouteRefresh", afi: m.afi, safi: m.safi, subtype: m.subtype });
      } else {
        unexpected(s, cfg, now, m.type, out);
      }
      return;
  }
}
