// A child process of simulated BGP peers, so that their keepalives keep time whatever the
// process under test is doing. Started with fork(); talks over IPC.
//   argv: TARGET_ADDR TARGET_PORT FIRST_LOCAL_ADDR COUNT HOLD_TIME AS
//   -> {type:"ready"} once every session is Established
//   <- {type:"report"} -> {type:"report", established, notifications, maxGapMs}
import net from "node:net";
import {
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  Framer,
  HEADER_LENGTH,
  KEEPALIVE,
  MessageType,
  type OpenMessage,
} from "../../src/bgp/index.js";

const [target, port, first, count, hold, asn] = process.argv.slice(2);
const base = first!.split(".").map(Number);
const holdTime = Number(hold);

interface Sim {
  established: boolean;
  lastFromUs: number;
  maxGapMs: number;
  notifications: string[];
}
const sims: Sim[] = [];

function start(i: number): void {
  const local = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + i}`;
  const sim: Sim = { established: false, lastFromUs: 0, maxGapMs: 0, notifications: [] };
  sims.push(sim);
  const socket = net.connect({ host: target, port: Number(port), localAddress: local });
  const framer = new Framer();
  socket.setNoDelay(true);
  socket.on("connect", () => {
    const open: OpenMessage = {
      type: "OPEN",
      version: 4,
      myAs: Number(asn),
      holdTime,
      bgpId: local,
      capabilities: [{ code: 65, name: "four-octet-as", asn: Number(asn) }],
    };
    socket.write(encodeMessage(open, DEFAULT_CONTEXT));
    setInterval(() => socket.write(KEEPALIVE), (holdTime * 1000) / 3);
  });
  socket.on("data", (chunk: Buffer) => {
    const now = Date.now();
    if (sim.established) sim.maxGapMs = Math.max(sim.maxGapMs, now - sim.lastFromUs);
    sim.lastFromUs = now;
    framer.push(chunk);
    for (let f = framer.next(); f !== undefined; f = framer.next()) {
      if (!Buffer.isBuffer(f)) throw f;
      // Only the type of an UPDATE matters here: decoding 200,000 routes for each of ten peers
      // would stall this process, and its own stall would count as the reflector's gap.
      if (f[HEADER_LENGTH - 1] === MessageType.UPDATE) continue;
      const { message } = decodeMessage(f, DEFAULT_CONTEXT);
      if (message?.type === "OPEN") socket.write(KEEPALIVE);
      if (message?.type === "KEEPALIVE" && !sim.established) {
        sim.established = true;
        if (sims.length === Number(count) && sims.every((s) => s.established))
          process.send?.({ type: "ready" });
      }
      if (message?.type === "NOTIFICATION") sim.notifications.push(`${message.code}/${message.subcode}`);
    }
  });
  socket.on("error", (e) => sim.notifications.push(`socket error ${e.message}`));
  socket.on("close", () => {
    sim.established = false;
  });
}

for (let i = 0; i < Number(count); i++) start(i);

process.on("message", (m: { type: string }) => {
  if (m.type !== "report") return;
  process.send?.({
    type: "report",
    established: sims.filter((s) => s.established).length,
    notifications: sims.flatMap((s) => s.notifications),
    maxGapMs: Math.max(...sims.map((s) => s.maxGapMs)),
  });
});
