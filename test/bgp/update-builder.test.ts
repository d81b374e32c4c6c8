// The batch UPDATE writer must produce exactly what the general encoder produces.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMessage,
  encodeAttributes,
  encodeMessage,
  Framer,
  formatKey,
  formatPrefix,
  MP_REACH_NLRI,
  makeContext,
  nlriSize,
  prefixKey,
  UpdateBatch,
  type UpdateMessage,
  wireKey,
} from "../../src/bgp/index.js";

const triple = fc.record({
  pathId: fc.integer({ min: 0, max: 0xffffffff }),
  bits: fc.integer({ min: 0, max: 32 }),
  addr: fc.integer({ min: 0, max: 0xffffffff }),
});

function normalise(t: { pathId: number; bits: number; addr: number }) {
  const mask = t.bits === 0 ? 0 : (0xffffffff << (32 - t.bits)) >>> 0;
  return { ...t, addr: (t.addr & mask) >>> 0 };
}

const text = (addr: number, bits: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(addr);
  return formatPrefix(1, b, 0, bits);
};

/** The messages in a batch's chunks; every chunk must end on a message boundary. */
function messages(chunks: Buffer[], maxLength = 4096): Buffer[] {
  return chunks.flatMap((chunk) => {
    const framer = new Framer(maxLength > 4096);
    framer.push(chunk);
    const out: Buffer[] = [];
    for (let m = framer.next(); m !== undefined; m = framer.next()) {
      if (!Buffer.isBuffer(m)) throw m;
      expect(m.length).toBeLessThanOrEqual(maxLength);
      out.push(m);
    }
    expect(framer.pending).toBe(0);
    return out;
  });
}

describe("UpdateBatch", () => {
  const attrs = { origin: "igp" as const, asPath: [], nextHop: "203.0.113.9", localPref: 100 };

  it("announcements decode to the same prefixes and attributes, split within the size limit", () => {
    fc.assert(
      fc.property(
        fc.array(triple, { maxLength: 3000 }),
        fc.boolean(),
        fc.integer({ min: 100, max: 20000 }),
        (ts, addPath, chunk) => {
          const ctx = makeContext({ addPath: { ipv4: addPath, ipv6: false } });
          const list = ts.map(normalise);
          const batch = new UpdateBatch(4096, chunk);
          batch.announceIpv4(
            encodeAttributes(attrs, ctx),
            list.flatMap((t) => [t.pathId, t.addr, t.bits]),
            addPath,
          );
          const nlri = messages(batch.finish()).flatMap((m) => {
            const { message, error } = decodeMessage(m, ctx);
            expect(error).toBeUndefined();
            expect((message as UpdateMessage).attributes).toEqual(attrs);
            return (message as UpdateMessage).nlri;
          });
          expect(nlri).toEqual(
            list.map((t) =>
              addPath ? { pathId: t.pathId, prefix: text(t.addr, t.bits) } : text(t.addr, t.bits),
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("3,000 /32s are split over four messages, none over 4096 octets, none lost", () => {
    const ctx = makeContext();
    const flat = Array.from({ length: 3000 }, (_, i) => [0, (0xc6120000 + i) >>> 0, 32]).flat();
    const batch = new UpdateBatch(4096);
    batch.announceIpv4(encodeAttributes(attrs, ctx), flat, false);
    const msgs = messages(batch.finish());
    expect(msgs.length).toBe(4);
    const count = msgs.reduce((n, m) => n + (decodeMessage(m, ctx).message as UpdateMessage).nlri.length, 0);
    expect(count).toBe(3000);
  });

  it("a message is byte-identical to the general encoder's", () => {
    const ctx = makeContext();
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: attrs,
      nlri: ["198.18.0.0/26", "198.18.0.64/26"],
    };
    const batch = new UpdateBatch(4096);
    batch.announceIpv4(encodeAttributes(attrs, ctx), [0, 0xc6120000, 26, 0, 0xc6120040, 26], false);
    expect(Buffer.concat(batch.finish())).toEqual(encodeMessage(m, ctx));
  });

  it("withdrawals and appended messages keep their order", () => {
    fc.assert(
      fc.property(fc.array(triple, { maxLength: 2000 }), (ts) => {
        const ctx = makeContext();
        const list = ts.map(normalise);
        const batch = new UpdateBatch(4096, 1000);
        batch.withdrawIpv4(
          list.flatMap((t) => [0, t.addr, t.bits]),
          false,
        );
        const eor = encodeMessage({ type: "UPDATE", withdrawn: [], attributes: {}, nlri: [] }, ctx);
        batch.append(eor);
        const msgs = messages(batch.finish());
        expect(msgs.at(-1)).toEqual(eor);
        const withdrawn = msgs
          .slice(0, -1)
          .flatMap((m) => (decodeMessage(m, ctx).message as UpdateMessage).withdrawn);
        expect(withdrawn).toEqual(list.map((t) => text(t.addr, t.bits)));
      }),
      { numRuns: 200 },
    );
  });

  describe("IPv6, in MP_REACH_NLRI and MP_UNREACH_NLRI (one writer with IPv4)", () => {
    const v6 = fc.record({
      pathId: fc.integer({ min: 0, max: 0xffffffff }),
      bits: fc.integer({ min: 0, max: 128 }),
      bytes: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    });
    const keyOf = (p: { pathId: number; bits: number; bytes: Uint8Array }) =>
      wireKey(p.bytes, 0, 2, p.bits, 0);
    const shown = (p: { pathId: number; bits: number; bytes: Uint8Array }, addPath: boolean) =>
      addPath ? { pathId: p.pathId, prefix: formatKey(keyOf(p)) } : formatKey(keyOf(p));
    const mpReach = { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::9"], nlri: [] };
    const rest = { origin: "igp" as const, asPath: [], localPref: 100, communities: ["64512:1"] };

    it("announcements decode to the same prefixes and attributes; each message is as full as the limit allows", () => {
      fc.assert(
        fc.property(
          fc.array(v6, { maxLength: 3000 }),
          fc.boolean(),
          fc.constantFrom(4096, 65535),
          (ps, addPath, maxLength) => {
            const ctx = makeContext({
              addPath: { ipv4: false, ipv6: addPath },
              extendedMessage: maxLength > 4096,
            });
            const block = { attrs: encodeAttributes(rest, ctx), reach: MP_REACH_NLRI.encode(mpReach, ctx) };
            const batch = new UpdateBatch(maxLength);
            batch.announce(
              block,
              ps.flatMap((p) => [p.pathId, keyOf(p)]),
              addPath,
            );
            const msgs = messages(batch.finish(), maxLength);
            let at = 0;
            for (const m of msgs) {
              const { message, error } = decodeMessage(m, ctx);
              expect(error).toBeUndefined();
              const { mpReach: reach, flags, ...others } = (message as UpdateMessage).attributes;
              // MP_REACH_NLRI always with a 2-octet length: it is written before its NLRI are counted
              expect(flags).toEqual({ mpReach: 0x90 });
              expect(others).toEqual(rest);
              expect(reach?.nextHop).toEqual(mpReach.nextHop);
              const nlri = reach?.nlri ?? [];
              expect(nlri).toEqual(ps.slice(at, at + nlri.length).map((p) => shown(p, addPath)));
              at += nlri.length;
              // the next prefix would not have fitted
              const next = ps[at];
              if (next && m !== msgs.at(-1))
                expect(m.length + nlriSize(keyOf(next), addPath)).toBeGreaterThan(maxLength);
            }
            expect(at).toBe(ps.length);
          },
        ),
        { numRuns: 100 },
      );
    });

    it("withdrawals decode to the same prefixes, MP_UNREACH_NLRI the only attribute", () => {
      fc.assert(
        fc.property(fc.array(v6, { maxLength: 3000 }), fc.boolean(), (ps, addPath) => {
          const ctx = makeContext({ addPath: { ipv4: false, ipv6: addPath } });
          const batch = new UpdateBatch(4096, 1000);
          batch.withdraw(
            2,
            ps.flatMap((p) => [p.pathId, keyOf(p)]),
            addPath,
          );
          const withdrawn = messages(batch.finish()).flatMap((m) => {
            const { message, error } = decodeMessage(m, ctx);
            expect(error).toBeUndefined();
            const a = (message as UpdateMessage).attributes;
            expect(Object.keys(a).filter((k) => k !== "flags")).toEqual(["mpUnreach"]);
            return a.mpUnreach?.withdrawn ?? [];
          });
          expect(withdrawn).toEqual(ps.map((p) => shown(p, addPath)));
        }),
        { numRuns: 100 },
      );
    });

    it("a message is byte-identical to the general encoder's, MP_REACH_NLRI first (RFC 7606 §5.1)", () => {
      const ctx = makeContext();
      const nlri = ["2001:db8:1::/122", "2001:db8:1::40/122"];
      const m: UpdateMessage = {
        type: "UPDATE",
        withdrawn: [],
        attributes: { mpReach: { ...mpReach, nlri }, ...rest, flags: { mpReach: 0x90 } },
        nlri: [],
      };
      const batch = new UpdateBatch(4096);
      const block = { attrs: encodeAttributes(rest, ctx), reach: MP_REACH_NLRI.encode(mpReach, ctx) };
      batch.announce(
        block,
        nlri.flatMap((p) => [0, prefixKey("ipv6", p)]),
        false,
      );
      expect(Buffer.concat(batch.finish())).toEqual(encodeMessage(m, ctx));
    });
  });
});
