// A DNS server for tests (RFC 1035 over UDP), answering SRV queries from a table and NXDOMAIN
// for any other name: enough for the SRV discovery of etcd (ETCD_DISCOVERY_SRV). It runs in a
// network namespace of the test's own, on 127.0.0.1:53 there, as a child process that prints
// "ready" once it listens. Started as `node dns-server.js TABLE_JSON` through the netns.
import { createSocket } from "node:dgram";

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

function name(labels: string): Buffer {
  const parts = labels.replace(/\.$/, "").split(".");
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

/** The question's name (no compression in queries) and where the question ends. */
function question(msg: Buffer): { qname: string; qtype: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (msg[at]) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString());
    at += 1 + len;
  }
  return { qname: labels.join(".").toLowerCase(), qtype: msg.readUInt16BE(at + 1), end: at + 5 };
}

export function answer(msg: Buffer, table: Record<string, SrvRecord[]>): Buffer {
  const { qname, qtype, end } = question(msg);
  const records = qtype === 33 ? table[qname] : undefined;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  // QR, opcode 0, AA, RD copied, RA; RCODE 3 (NXDOMAIN) without records
  header.writeUInt16BE(0x8480 | ((msg[2]! & 0x01) << 8) | (records ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records?.length ?? 0, 6);
  const answers = (records ?? []).map((r) => {
    const target = name(r.target);
    const rr = Buffer.alloc(12 + 6);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(33, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(30, 6);
    rr.writeUInt16BE(6 + target.length, 10);
    rr.writeUInt16BE(r.priority, 12);
    rr.writeUInt16BE(r.weight, 14);
    rr.writeUInt16BE(r.port, 16);
    return Buffer.concat([rr, target]);
  });
  return Buffer.concat([header, msg.subarray(12, end), ...answers]);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/.*\//, ""))) {
  const table = JSON.parse(process.argv[2] ?? "{}") as Record<string, SrvRecord[]>;
  const socket = createSocket("udp4");
  socket.on("message", (msg, from) => socket.send(answer(msg, table), from.port, from.address));
  socket.bind(53, "127.0.0.1", () => console.log("ready"));
}
