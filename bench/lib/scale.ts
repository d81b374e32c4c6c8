// The scale scenario: 100,000 peers over the in-memory transport (beyond what 20,000 open files
// allow over TCP), in this process, each announcing one route. Measures the time to establish
// them all, the time until every peer holds every route, and the reflector's memory per peer
// beyond the routes.
import { DEFAULT_CONTEXT, encodeMessage, Framer, layoutUpdate, scanIpv4Nlri } from "../../src/bgp/index.js";
import { socketPair } from "../../src/fsm/index.js";
import { Reflector } from "../../src/reflector/reflector.js";
import { clientAddress, clientNextHop, prefixOf } from "./plan.js";
import type { Run } from "./results.js";
import { SimPeer, until } from "./sim.js";

const gc = () => (globalThis as { gc?: () => void }).gc?.();
const mem = () => {
  gc();
  gc();
  return process.memoryUsage();
};

/** The memory of n simulated peers' own ends alone (socket pairs with a data handler), to subtract. */
function simSideBytes(n: number): number {
  const before = mem().heapUsed;
  const keep: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const [a, b] = socketPair();
    let bytes = 0;
    b.on("data", (c: Buffer) => {
      bytes += c.length;
    });
    keep.push(a, b, () => bytes);
  }
  const after = mem().heapUsed;
  keep.length = 0;
  return (after - before) / n;
}

export async function scale(n: number): Promise<Run> {
  const progress = (s: string) => process.stderr.write(`\r\x1b[Kscale ours N=${n}: ${s}`);
  const simSide = simSideBytes(Math.min(n, 20_000));
  const rr = new Reflector({ routerId: "100.127.255.254", localAs: 64512, clusterId: "224.0.0.1" });
  const base = mem();
  const t0 = performance.now();
  const peers: SimPeer[] = [];
  for (let i = 0; i < n; i++) {
    peers.push(new SimPeer(rr, clientAddress(i), clientAddress(i)));
    if (i % 5000 === 0) {
      progress(`adding peers ${i}/${n}`);
      await new Promise((r) => setImmediate(r));
    }
  }
  await until(
    () => rr.peers.every((p) => p.session.state === "Established"),
    600_000,
    "every session Established",
  );
  const establishMs = performance.now() - t0;
  const established = mem();
  const perPeer = (established.heapUsed - base.heapUsed) / n;
  progress(`established in ${(establishMs / 1000).toFixed(1)} s; announcing`);

  // One sampled peer parses what it receives: it must end up with every route.
  const sample = peers[Math.floor(n / 2)] as SimPeer;
  const held = new Set<number>();
  const scratch: number[] = [];
  const framer = new Framer();
  sample.socket.on("data", (chunk: Buffer) => {
    framer.push(chunk);
    for (let f = framer.next(); f !== undefined; f = framer.next()) {
      if (!Buffer.isBuffer(f) || f[18] !== 2) continue;
      const body = f.subarray(19);
      const layout = layoutUpdate(body);
      if (!("nlriStart" in layout)) continue;
      scratch.length = 0;
      scanIpv4Nlri(body, layout.nlriStart, layout.nlriEnd, false, scratch);
      for (let i = 1; i < scratch.length; i += 3) held.add(scratch[i] as number);
    }
  });
  const t1 = performance.now();
  peers.forEach((p, i) => {
    p.send([
      encodeMessage(
        {
          type: "UPDATE",
          withdrawn: [],
          attributes: { origin: "igp", asPath: [], nextHop: clientNextHop(i), localPref: 100 },
          nlri: [prefixOf(i)],
        },
        DEFAULT_CONTEXT,
      ),
    ]);
  });
  await until(() => rr.rib.size === n && rr.rib.dirty.size === 0, 900_000, "every route in the Loc-RIB");
  const delivered = (p: SimPeer) => p.bytes >= (rr.peer(p.address)?.session.bytesOut ?? 0);
  let last = 0;
  await until(
    () => {
      if (performance.now() - last > 1000) {
        last = performance.now();
        progress(`routes ${rr.rib.size}/${n}, sample holds ${held.size}`);
      }
      return held.size === n && peers.every(delivered);
    },
    900_000,
    "every peer to receive every route",
  );
  const convergeMs = performance.now() - t1;
  const end = mem();
  process.stderr.write("\n");
  const bytesSent = rr.peers.reduce((s, p) => s + p.session.bytesOut, 0);
  const groups = rr.updateGroups;
  rr.stop("benchmark finished");
  return {
    scenario: "scale",
    kind: "ours",
    n,
    k: 1,
    establishMs: Math.round(establishMs),
    convergence: { p50: Math.round(convergeMs), p99: Math.round(convergeMs), last: Math.round(convergeMs) },
    memoryPerPeerKiB: Math.round(((perPeer - simSide) / 1024) * 100) / 100,
    memoryPerPeerWithSimKiB: Math.round((perPeer / 1024) * 100) / 100,
    routesHeapMiB: Math.round((end.heapUsed - established.heapUsed) / 2 ** 20),
    peakRssMiB: Math.round(end.rss / 2 ** 20),
    bytesSent,
    updateGroups: groups.length,
    bytesEncoded: groups.reduce((s, g) => s + g.bytesEncoded, 0),
    tableCheck: { sampled: 1, exact: held.size === n, errors: [], lowestHeldDuringRun: held.size },
  };
}
