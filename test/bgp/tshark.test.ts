// Cross-check against Wireshark's BGP dissector: a deterministic sample of generated UPDATEs and
// OPENs, encoded by us, must read the same in tshark (../shared/vectors/tshark-decode.sh).
// ADD-PATH is left out: tshark detects it by guessing.
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BgpMessage,
  type CodecContext,
  encodeMessage,
  makeContext,
  type OpenMessage,
  type UpdateMessage,
} from "../../src/bgp/index.js";
import { openMessage, updateMessage } from "../helpers/arbitraries.js";
import { sharedPath } from "../helpers/shared.js";

// biome-ignore lint/suspicious/noExplicitAny: tshark's JSON tree
type Tree = Record<string, any>;

function tshark(messages: Buffer[], asn4: boolean): Tree[] {
  const script = sharedPath("vectors", "tshark-decode.sh");
  const r = spawnSync("bash", [script, "-a", asn4 ? "4" : "2", "-"], {
    input: Buffer.concat(messages).toString("hex"),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`tshark-decode.sh failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Tree[];
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const prefixes = (tree: Tree | undefined) => new Set(Object.keys(tree ?? {}));
const strip = (n: string | { prefix: string }) => (typeof n === "string" ? n : n.prefix);
const P = "bgp.update.path_attribute.";

/** Batches that fit one TCP segment of the oracle (65000 octets). */
function batches(wires: Buffer[]): Buffer[][] {
  const out: Buffer[][] = [[]];
  let size = 0;
  for (const w of wires) {
    if (size + w.length > 60000) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1]!.push(w);
    size += w.length;
  }
  return out;
}

function checkUpdate(m: UpdateMessage, t: Tree): void {
  expect(prefixes(t["bgp.update.withdrawn_routes"])).toEqual(new Set(m.withdrawn.map(strip)));
  expect(prefixes(t["bgp.update.nlri"])).toEqual(new Set(m.nlri.map(strip)));
  const attrs = asList(t["bgp.update.path_attributes"]?.["bgp.update.path_attribute"]) as Tree[];
  const codes = attrs.map((a) => Number(a[`${P}type_code`]));
  const ours = Object.keys(m.attributes).filter((k) => k !== "flags" && k !== "unknown");
  expect(codes.length).toBe(ours.length + (m.attributes.unknown?.length ?? 0));
  const a = m.attributes;
  for (const at of attrs) {
    switch (Number(at[`${P}type_code`])) {
      case 1:
        expect(["igp", "egp", "incomplete"][Number(at[`${P}origin`])]).toBe(a.origin);
        break;
      case 2: {
        const segs = asList(at[`${P}as_path_segment`]) as Tree[];
        expect(segs.map((s) => Number(s[`${P}as_path_segment.type`]))).toEqual(
          a.asPath!.map(
            (s) => ["AS_SET", "AS_SEQUENCE", "AS_CONFED_SEQUENCE", "AS_CONFED_SET"].indexOf(s.type) + 1,
          ),
        );
        const asns = segs.flatMap((s) =>
          asList(s[`${P}as_path_segment.as4`] ?? s[`${P}as_path_segment.as2`]),
        );
        expect(asns.map(Number)).toEqual(a.asPath!.flatMap((s) => s.asns));
        break;
      }
      case 3:
        expect(at[`${P}next_hop`]).toBe(a.nextHop);
        break;
      case 4:
        expect(Number(at[`${P}multi_exit_disc`])).toBe(a.med);
        break;
      case 5:
        expect(Number(at[`${P}local_pref`])).toBe(a.localPref);
        break;
      case 7:
        expect([Number(at[`${P}aggregator_as`]), at[`${P}aggregator_origin`]]).toEqual([
          a.aggregator!.asn,
          a.aggregator!.id,
        ]);
        break;
      case 9:
        expect(at[`${P}originator_id`]).toBe(a.originatorId);
        break;
      case 14: {
        const mp = a.mpReach!;
        expect([Number(at[`${P}mp_reach_nlri.afi`]), Number(at[`${P}mp_reach_nlri.safi`])]).toEqual([
          mp.afi,
          mp.safi,
        ]);
        expect(prefixes(at[`${P}mp_reach_nlri`])).toEqual(new Set(mp.nlri.map(strip)));
        const nh = at[`${P}mp_reach_nlri.next_hop_tree`] as Tree | undefined;
        if (mp.afi === 2) {
          expect(nh?.[`${P}mp_reach_nlri.next_hop.ipv6`]).toBe(mp.nextHop[0]);
          if (mp.nextHop[1]) expect(nh?.[`${P}mp_reach_nlri.next_hop.ipv6.link_local`]).toBe(mp.nextHop[1]);
        }
        break;
      }
      case 15: {
        const mp = a.mpUnreach!;
        expect(prefixes(at[`${P}mp_unreach_nlri`])).toEqual(new Set(mp.withdrawn.map(strip)));
        break;
      }
      default:
        break;
    }
  }
}

function checkOpen(m: OpenMessage, t: Tree): void {
  expect(Number(t["bgp.open.myas"])).toBe(m.myAs);
  expect(Number(t["bgp.open.holdtime"])).toBe(m.holdTime);
  expect(t["bgp.open.identifier"]).toBe(m.bgpId);
  const params = asList(t["bgp.open.opt"]?.["bgp.open.opt.param"]) as Tree[];
  const caps = params.flatMap((p) => asList(p["bgp.cap"]) as Tree[]);
  expect(caps.map((c) => Number(c["bgp.cap.type"]))).toEqual(m.capabilities.map((c) => c.code));
  for (const [i, c] of m.capabilities.entries()) {
    if (c.name === "four-octet-as") expect(Number(caps[i]!["bgp.cap.4as"])).toBe(c.asn);
    if (c.name === "multiprotocol") expect(Number(caps[i]!["bgp.cap.mp.afi"])).toBe(c.afi);
  }
}

function crossCheck(ctx: CodecContext, messages: BgpMessage[]): number {
  let checked = 0;
  for (const batch of batches(messages.map((m) => encodeMessage(m, ctx)))) {
    const trees = tshark(batch, ctx.asn4);
    expect(trees).toHaveLength(batch.length);
    for (const [i, tree] of trees.entries()) {
      const m = messages[checked]!;
      expect(
        tree._expert,
        `tshark flags message ${checked}: ${JSON.stringify(tree._expert)}`,
      ).toBeUndefined();
      expect(Number(tree["bgp.length"])).toBe(batch[i]!.length);
      if (m.type === "UPDATE") checkUpdate(m, tree);
      if (m.type === "OPEN") checkOpen(m, tree);
      checked++;
    }
  }
  return checked;
}

describe("tshark reads what we encode the same way", () => {
  for (const asn4 of [true, false]) {
    it(`${asn4 ? "4" : "2"}-octet AS: 300 generated UPDATEs`, () => {
      const ctx = makeContext({ asn4, addPath: { ipv4: false, ipv6: false } });
      // Unknown attribute codes are left out: tshark knows some codes we keep opaque.
      const updates = fc
        .sample(updateMessage(ctx, true), { numRuns: 300, seed: asn4 ? 4 : 2 })
        .map((m) => ({ ...m, attributes: { ...m.attributes, unknown: undefined } }));
      expect(crossCheck(ctx, updates)).toBe(300);
    });
  }

  it("100 generated OPENs", () => {
    const ctx = makeContext();
    expect(crossCheck(ctx, fc.sample(openMessage, { numRuns: 100, seed: 7 }))).toBe(100);
  });
});
