// npm run bench:codec — decode and encode throughput of the wire codec on one core.
// (a) UPDATEs packing 1,000 IPv4 /32s under one attribute set (RFC 8654 extended messages);
// (b) 100,000 Calico-shaped UPDATEs: one /26 each, own NEXT_HOP, ORIGINATOR_ID, CLUSTER_LIST;
// (c) 100,000 IPv6 MP_REACH_NLRI UPDATEs: one /122 each, own next hop.
// "hot path" is what the reflector does with a message whose attribute block it has not seen:
// locate the fields and the block's key (scanUpdate), decode the block, read the NLRI into prefix
// keys (wireKey). "known block" is the same without the decode: what it does when an equal block
// is already interned (a re-announcement, a packed table). "full" is decodeMessage into the JSON
// model. Encoding "hot path" writes a cached outbound block plus NLRI into 64 KiB chunks
// (UpdateBatch, both families); its ceiling is Buffer.copy of the same messages into the same chunks.
import {
  decodeAttributes,
  decodeMessage,
  encodeAttributes,
  encodeMessage,
  ipv4Key,
  MP_REACH_NLRI,
  makeContext,
  type PathAttributes,
  type PrefixKey,
  prefixKey,
  scanUpdate,
  UpdateBatch,
  type UpdateMessage,
  wireKey,
} from "../src/bgp/index.js";
import { fmt, machine, rate, writeResult } from "./lib/report.js";

const ctx = makeContext({ asn4: true, extendedMessage: true });
const ip = (n: number) => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
const BASE_198 = 0xc6120000; // 198.18.0.0
const BASE_100 = 0x64400000; // 100.64.0.0

// --- (a) packed IPv4 ---------------------------------------------------------------------
const packedAttrs: PathAttributes = { origin: "igp", asPath: [], nextHop: "203.0.113.10", localPref: 100 };
const packedBlock = encodeAttributes(packedAttrs, ctx);
const PACKED_MESSAGES = 100;
const packedTriples = Array.from({ length: PACKED_MESSAGES }, (_, m) =>
  Array.from({ length: 1000 }, (_, i) => [0, (BASE_198 + m * 1000 + i) >>> 0, 32]).flat(),
);
function written(batch: UpdateBatch): Buffer {
  const chunks = batch.finish();
  if (chunks.length !== 1) throw new Error("expected one chunk");
  return chunks[0]!;
}
const packed = packedTriples.map((t) => {
  const batch = new UpdateBatch(65535);
  batch.announceIpv4(packedBlock, t, false);
  return written(batch);
});

// --- (b) Calico-shaped IPv4 ----------------------------------------------------------------
const CALICO = 100_000;
function calicoAttrs(i: number): PathAttributes {
  const node = ip((BASE_100 + 1 + i) >>> 0);
  return {
    origin: "igp",
    asPath: [],
    nextHop: node,
    localPref: 100,
    originatorId: node,
    clusterList: ["203.0.113.254"],
  };
}
const calicoBlocks = Array.from({ length: CALICO }, (_, i) => encodeAttributes(calicoAttrs(i), ctx));
const calicoPrefix = (i: number) => [0, (BASE_100 + (i % 65536) * 64) >>> 0, 26];
const calicoTriples = Array.from({ length: CALICO }, (_, i) => calicoPrefix(i));
const calico = calicoBlocks.map((b, i) => {
  const batch = new UpdateBatch(4096);
  batch.announceIpv4(b, calicoTriples[i]!, false);
  return written(batch);
});

// --- (c) IPv6 MP_REACH -------------------------------------------------------------------
const ipv6: Buffer[] = Array.from({ length: CALICO }, (_, i) => {
  const m: UpdateMessage = {
    type: "UPDATE",
    withdrawn: [],
    attributes: {
      origin: "igp",
      asPath: [],
      localPref: 100,
      originatorId: ip((BASE_100 + 1 + i) >>> 0),
      clusterList: ["203.0.113.254"],
      mpReach: {
        afi: 2,
        safi: 1,
        nextHop: [`2001:db8:ffff::${((i + 1) >> 16).toString(16)}:${((i + 1) & 0xffff).toString(16)}`],
        nlri: [`2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/122`],
      },
    },
    nlri: [],
  };
  return encodeMessage(m, ctx);
});

// --- measurement ---------------------------------------------------------------------------
const NO_ADD_PATH = { ipv4: false, ipv6: false };

/** (pathId, address, length) triples as the (Path Identifier, key) pairs the reflector encodes from. */
function pairsOf(triples: number[]): (number | PrefixKey)[] {
  const out: (number | PrefixKey)[] = [];
  for (let i = 0; i < triples.length; i += 3)
    out.push(triples[i]!, ipv4Key(triples[i + 1]!, triples[i + 2]!));
  return out;
}
/** keys read, so that reading them is not optimised away */
let keys = 0;

/** The reflector's path for an UPDATE whose block is interned already: locate, key, read prefixes. */
function knownBlock(msg: Buffer): number {
  const body = msg.subarray(19);
  const scan = scanUpdate(body, NO_ADD_PATH);
  if (!scan) throw new Error("not located");
  let n = 0;
  for (const r of scan.reach) {
    for (let off = r.start; off < r.end; off += 1 + ((body[off]! + 7) >> 3)) {
      if (wireKey(body, off + 1, r.afi, body[off]!, 0) !== -1) keys++;
      n++;
    }
  }
  return n;
}

/** The same for a block seen the first time: decoded too (RFC 7606 checks, the JSON model). */
function hotDecode(msg: Buffer): number {
  const body = msg.subarray(19);
  const scan = scanUpdate(body, NO_ADD_PATH);
  if (!scan) throw new Error("not located");
  const start = 2 + body.readUInt16BE(0) + 2;
  const { error } = decodeAttributes(
    body,
    start,
    start + body.readUInt16BE(start - 2),
    ctx,
    scan.nlriField ? 1 : 0,
  );
  if (error) throw error;
  return knownBlock(msg);
}

function over<T>(items: T[], fn: (x: T) => void): () => void {
  return () => {
    for (const x of items) fn(x);
  };
}

const bytesOf = (ms: Buffer[]) => ms.reduce((n, m) => n + m.length, 0);
const mb = (bytes: number, perSec: number) => (bytes * perSec) / 1e6;

/** Buffer.copy of the same messages, back to back into 64 KiB chunks: what encoding must beat. */
function copyBandwidth(messages: Buffer[]): number {
  let chunk = Buffer.allocUnsafe(65536);
  let used = 0;
  const calls = rate(
    over(messages, (m) => {
      if (used + m.length > chunk.length) {
        chunk = Buffer.allocUnsafe(65536);
        used = 0;
      }
      used += m.copy(chunk, used);
    }),
  );
  return mb(bytesOf(messages), calls);
}

const results: Record<string, Record<string, number>> = {};

{
  const bytes = bytesOf(packed);
  const prefixes = PACKED_MESSAGES * 1000;
  const hot = rate(over(packed, hotDecode));
  const known = rate(over(packed, knownBlock));
  const full = rate(over(packed, (m) => decodeMessage(m, ctx)));
  // the reflector's form: (Path Identifier, prefix key) pairs and a cached outbound block
  const block = { attrs: packedBlock, reach: Buffer.alloc(0) };
  const pairs = packedTriples.map(pairsOf);
  const batch = new UpdateBatch(65535);
  const enc = rate(() => {
    for (const t of pairs) batch.announce(block, t, false);
    batch.finish();
  });
  const sample = packed.slice(0, 10).map((m) => decodeMessage(m, ctx).message!);
  const encFull = rate(over(sample, (m) => encodeMessage(m, ctx))) * sample.length;
  results.packedIpv4 = {
    messages: PACKED_MESSAGES,
    prefixesPerMessage: 1000,
    bytes,
    decodeHotPrefixesPerSec: hot * prefixes,
    decodeHotMBps: mb(bytes, hot),
    decodeKnownPrefixesPerSec: known * prefixes,
    decodeFullPrefixesPerSec: full * prefixes,
    encodeHotPrefixesPerSec: enc * prefixes,
    encodeHotMBps: mb(bytes, enc),
    encodeFullPrefixesPerSec: encFull * 1000,
    copyMBps: copyBandwidth(packed),
  };
}
{
  const bytes = bytesOf(calico);
  const hot = rate(over(calico, hotDecode), 3000);
  const known = rate(over(calico, knownBlock), 3000);
  const full = rate(
    over(calico, (m) => decodeMessage(m, ctx)),
    3000,
  );
  const blocks = calicoBlocks.map((attrs) => ({ attrs, reach: Buffer.alloc(0) }));
  const pairs = calicoTriples.map(pairsOf);
  const batch = new UpdateBatch(4096);
  const enc = rate(() => {
    for (let i = 0; i < CALICO; i++) batch.announce(blocks[i]!, pairs[i]!, false);
    batch.finish();
  }, 3000);
  results.calicoIpv4 = {
    messages: CALICO,
    bytes,
    decodeHotMessagesPerSec: hot * CALICO,
    decodeHotMBps: mb(bytes, hot),
    decodeKnownMessagesPerSec: known * CALICO,
    decodeFullMessagesPerSec: full * CALICO,
    encodeHotMessagesPerSec: enc * CALICO,
    encodeHotMBps: mb(bytes, enc),
    copyMBps: copyBandwidth(calico),
  };
}
{
  const bytes = bytesOf(ipv6);
  const full = rate(
    over(ipv6, (m) => decodeMessage(m, ctx)),
    3000,
  );
  const hot = rate(over(ipv6, hotDecode), 3000);
  const known = rate(over(ipv6, knownBlock), 3000);
  const decoded = ipv6.map((m) => decodeMessage(m, ctx).message!);
  const enc = rate(
    over(decoded, (m) => encodeMessage(m, ctx)),
    3000,
  );
  // the reflector's form: each path's block encoded once (attributes, and MP_REACH_NLRI up to its NLRI)
  const blocks = decoded.map((m) => {
    const { mpReach, ...rest } = (m as UpdateMessage).attributes;
    return {
      block: {
        attrs: encodeAttributes(rest, ctx),
        reach: MP_REACH_NLRI.encode({ ...mpReach!, nlri: [] }, ctx),
      },
      prefixes: [0, prefixKey("ipv6", mpReach!.nlri[0] as string)],
    };
  });
  const batch = new UpdateBatch(4096);
  const encHot = rate(() => {
    for (const b of blocks) batch.announce(b.block, b.prefixes, false);
    batch.finish();
  }, 3000);
  results.ipv6MpReach = {
    messages: CALICO,
    bytes,
    decodeHotMessagesPerSec: hot * CALICO,
    decodeHotMBps: mb(bytes, hot),
    decodeKnownMessagesPerSec: known * CALICO,
    decodeFullMessagesPerSec: full * CALICO,
    decodeFullMBps: mb(bytes, full),
    encodeHotMessagesPerSec: encHot * CALICO,
    encodeHotMBps: mb(bytes, encHot),
    encodeFullMessagesPerSec: enc * CALICO,
    encodeFullMBps: mb(bytes, enc),
    copyMBps: copyBandwidth(ipv6),
  };
}

if (keys === 0) throw new Error("no prefix was read");
const p = results.packedIpv4!;
const c = results.calicoIpv4!;
const targets = {
  "decode >= 5M packed IPv4 prefixes/s (hot path)": p.decodeHotPrefixesPerSec! >= 5e6,
  "decode >= 1M Calico-shaped UPDATEs/s (hot path)": c.decodeHotMessagesPerSec! >= 1e6,
  "encode of cached attributes + NLRI >= 25% of copy bandwidth (packed)":
    p.encodeHotMBps! >= 0.25 * p.copyMBps!,
  "encode of cached attributes + NLRI >= 25% of copy bandwidth (Calico-shaped)":
    c.encodeHotMBps! >= 0.25 * c.copyMBps!,
};
const file = writeResult("codec", { benchmark: "codec", machine: machine(), results, targets });

console.log(`codec benchmark, one core, ${machine().cpu}, node ${process.version}`);
console.log(`(a) packed IPv4, 1,000 /32s per UPDATE:`);
console.log(
  `    decode hot path  ${fmt(p.decodeHotPrefixesPerSec! / 1e6, 2)}M prefixes/s  ${fmt(p.decodeHotMBps!)} MB/s`,
);
console.log(`    known block      ${fmt(p.decodeKnownPrefixesPerSec! / 1e6, 2)}M prefixes/s`);
console.log(`    decode full      ${fmt(p.decodeFullPrefixesPerSec! / 1e6, 2)}M prefixes/s`);
console.log(
  `    encode hot path  ${fmt(p.encodeHotPrefixesPerSec! / 1e6, 2)}M prefixes/s  ${fmt(p.encodeHotMBps!)} MB/s`,
);
console.log(`    encode full      ${fmt(p.encodeFullPrefixesPerSec! / 1e6, 2)}M prefixes/s`);
console.log(`    Buffer.copy      ${fmt(p.copyMBps!)} MB/s`);
console.log(`(b) Calico-shaped IPv4, one /26 per UPDATE:`);
console.log(
  `    decode hot path  ${fmt(c.decodeHotMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(c.decodeHotMBps!)} MB/s`,
);
console.log(`    known block      ${fmt(c.decodeKnownMessagesPerSec! / 1e6, 2)}M UPDATEs/s`);
console.log(`    decode full      ${fmt(c.decodeFullMessagesPerSec! / 1e6, 2)}M UPDATEs/s`);
console.log(
  `    encode hot path  ${fmt(c.encodeHotMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(c.encodeHotMBps!)} MB/s`,
);
console.log(`    Buffer.copy      ${fmt(c.copyMBps!)} MB/s`);
const v = results.ipv6MpReach!;
console.log(`(c) IPv6 MP_REACH, one /122 per UPDATE:`);
console.log(
  `    decode hot path  ${fmt(v.decodeHotMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(v.decodeHotMBps!)} MB/s`,
);
console.log(`    known block      ${fmt(v.decodeKnownMessagesPerSec! / 1e6, 2)}M UPDATEs/s`);
console.log(
  `    encode hot path  ${fmt(v.encodeHotMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(v.encodeHotMBps!)} MB/s`,
);
console.log(
  `    decode full      ${fmt(v.decodeFullMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(v.decodeFullMBps!)} MB/s`,
);
console.log(
  `    encode full      ${fmt(v.encodeFullMessagesPerSec! / 1e6, 2)}M UPDATEs/s  ${fmt(v.encodeFullMBps!)} MB/s`,
);
for (const [t, ok] of Object.entries(targets)) console.log(`${ok ? "met    " : "NOT met"}  ${t}`);
console.log(`written to ${file}`);
