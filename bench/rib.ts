// npm run bench:rib — the RIB and reflector core over the in-memory transport:
// (a) 1,000,000 IPv4 prefixes announced by one peer, then withdrawn, with one client receiving;
// (b) the full table of 1,000,000 prefixes dumped to a peer that joins afterwards;
// (c) 10,000 Calico-shaped routes (1,000 nodes, 10 /32s each, own NEXT_HOP) fanned out to the
//     1,000 nodes as clients.
// Reports time, heap after GC (run with --expose-gc), and bytes encoded vs written.
import { encodeAttributes, makeContext, UpdateBatch } from "../src/bgp/index.js";
import { Reflector } from "../src/reflector/reflector.js";
import { fmt, machine, writeResult } from "./lib/report.js";
import { SimPeer, until } from "./lib/sim.js";

const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const ctx = makeContext();
const BASE_100 = 0x64400000; // 100.64.0.0/10
const seconds = (t0: number) => (performance.now() - t0) / 1000;
const busy = (rr: Reflector) => rr.updateGroups.some((g) => g.busy);
const written = (rr: Reflector) => rr.updateGroups.reduce((n, g) => n + g.bytesWritten, 0);
const encoded = (rr: Reflector) => rr.updateGroups.reduce((n, g) => n + g.bytesEncoded, 0);

async function millionPrefixes() {
  const N = 1_000_000;
  const rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, clusterId: "203.0.113.250" });
  const source = new SimPeer(rr, "source", "203.0.113.1");
  const sink = new SimPeer(rr, "sink", "203.0.113.2");
  await until(() => rr.peers.every((p) => p.session.state === "Established"), 5000, "sessions");
  const heap0 = heapMB();
  const triples = Array.from({ length: N }, (_, i) => [0, (BASE_100 + i) >>> 0, 32]).flat();
  const attrs = encodeAttributes({ origin: "igp", asPath: [], nextHop: "203.0.113.1", localPref: 100 }, ctx);
  const announce = new UpdateBatch(4096);
  announce.announceIpv4(attrs, triples, false);
  const withdraw = new UpdateBatch(4096);
  withdraw.withdrawIpv4(triples, false);
  const announceChunks = announce.finish();
  const withdrawChunks = withdraw.finish();

  let t0 = performance.now();
  source.send(announceChunks);
  const delivered = (p: SimPeer) => p.bytes >= rr.peer(p.address)!.session.bytesOut && !busy(rr);
  await until(() => rr.rib.size === N && rr.rib.dirty.size === 0, 300_000, "insert");
  await until(() => delivered(sink), 60_000, "the client to receive it all");
  const insertSeconds = seconds(t0);
  const heapInsert = heapMB() - heap0;
  const bytesAfterInsert = { encoded: encoded(rr), written: written(rr) };

  // (b) a peer that joins now gets the whole table, then End-of-RIB.
  t0 = performance.now();
  const late = new SimPeer(rr, "late", "203.0.113.3", true);
  await until(() => late.endOfRibs === 1, 300_000, "full table");
  const dumpSeconds = seconds(t0);
  const dumpBytes = late.bytes;

  t0 = performance.now();
  source.send(withdrawChunks);
  await until(() => rr.rib.size === 0 && rr.rib.dirty.size === 0, 300_000, "withdraw");
  const withdrawSeconds = seconds(t0);
  rr.stop();
  return {
    prefixes: N,
    insertSeconds,
    insertPrefixesPerSec: N / insertSeconds,
    withdrawSeconds,
    withdrawPrefixesPerSec: N / withdrawSeconds,
    heapMBWithTable: heapInsert,
    heapBytesPerPrefix: (heapInsert * 2 ** 20) / N,
    bytesEncoded: bytesAfterInsert.encoded,
    bytesWritten: bytesAfterInsert.written,
    dumpSeconds,
    dumpBytes,
  };
}

async function calicoFanOut() {
  const NODES = 1000;
  const PER_NODE = 10;
  const rr = new Reflector({ routerId: "203.0.113.254", localAs: 64512, clusterId: "203.0.113.250" });
  const nodes = Array.from(
    { length: NODES },
    (_, i) => new SimPeer(rr, `node-${i}`, ip((BASE_100 + 1 + i) >>> 0)),
  );
  await until(() => rr.peers.every((p) => p.session.state === "Established"), 30_000, "sessions");
  const heap0 = heapMB();
  const updates = nodes.map((_, i) => {
    const node = ip((BASE_100 + 1 + i) >>> 0);
    const b = new UpdateBatch(4096);
    const attrs = encodeAttributes({ origin: "igp", asPath: [], nextHop: node, localPref: 100 }, ctx);
    // 10 /32s per node from 100.64.128.0 upwards: the nodes' pod blocks, as host routes.
    b.announceIpv4(
      attrs,
      Array.from({ length: PER_NODE }, (_, k) => [
        0,
        (BASE_100 + 0x8000 + i * PER_NODE + k) >>> 0,
        32,
      ]).flat(),
      false,
    );
    return b.finish();
  });
  const written0 = written(rr);
  const t0 = performance.now();
  for (const [i, n] of nodes.entries()) n.send(updates[i]!);
  await until(
    () => rr.rib.size === NODES * PER_NODE && rr.rib.dirty.size === 0,
    120_000,
    "all routes in the Loc-RIB",
  );
  // Members that fell behind get the rest when they drain: nothing may be queued or owed.
  await until(
    () => !busy(rr) && nodes.every((n) => n.bytes >= rr.peer(n.address)!.session.bytesOut),
    120_000,
    "every node to receive every route",
  );
  const fanOutSeconds = seconds(t0);
  const result = {
    nodes: NODES,
    routes: NODES * PER_NODE,
    deliveries: NODES * NODES * PER_NODE,
    seconds: fanOutSeconds,
    routeDeliveriesPerSec: (NODES * NODES * PER_NODE) / fanOutSeconds,
    updateGroups: rr.updateGroups.length,
    bytesEncoded: encoded(rr),
    bytesWritten: written(rr) - written0,
    heapMB: heapMB() - heap0,
  };
  rr.stop();
  return result;
}

const a = await millionPrefixes();
const c = await calicoFanOut();
const file = writeResult("rib", {
  benchmark: "rib",
  machine: machine(),
  gcExposed: gc !== undefined,
  million: a,
  calicoFanOut: c,
});
console.log(`rib benchmark, ${machine().cpu}, node ${process.version}`);
console.log(`(a) 1,000,000 IPv4 prefixes from one peer, one client receiving:`);
console.log(
  `    insert   ${fmt(a.insertSeconds, 2)} s (${fmt(a.insertPrefixesPerSec / 1e6, 2)}M prefixes/s)`,
);
console.log(
  `    withdraw ${fmt(a.withdrawSeconds, 2)} s (${fmt(a.withdrawPrefixesPerSec / 1e6, 2)}M prefixes/s)`,
);
console.log(
  `    heap with the table ${fmt(a.heapMBWithTable)} MB (${fmt(a.heapBytesPerPrefix)} B per prefix)`,
);
console.log(`    encoded ${fmt(a.bytesEncoded / 1e6, 1)} MB, written ${fmt(a.bytesWritten / 1e6, 1)} MB`);
console.log(
  `(b) full table to a peer that joins: ${fmt(a.dumpSeconds, 2)} s, ${fmt(a.dumpBytes / 1e6, 1)} MB`,
);
console.log(`(c) 10,000 Calico-shaped routes fanned out to 1,000 clients (10M route deliveries):`);
console.log(
  `    ${fmt(c.seconds, 2)} s (${fmt(c.routeDeliveriesPerSec / 1e6, 2)}M deliveries/s), ${c.updateGroups} update group(s)`,
);
console.log(
  `    encoded ${fmt(c.bytesEncoded / 1e6, 2)} MB, written ${fmt(c.bytesWritten / 1e6, 1)} MB, heap +${fmt(c.heapMB)} MB`,
);
console.log(`written to ${file}`);
