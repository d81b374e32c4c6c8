// RFC 7606 rules that the shared vectors do not reach, one case each.
import { describe, expect, it } from "vitest";
import {
  type CodecContext,
  decodeMessage,
  encodeMessage,
  makeContext,
  type PathAttributes,
  type UpdateMessage,
} from "../../src/bgp/index.js";

const ctx = makeContext({ asn4: true });
const base: PathAttributes = {
  origin: "igp",
  asPath: [{ type: "AS_SEQUENCE", asns: [64512] }],
  nextHop: "203.0.113.1",
};

function update(attributes: PathAttributes, nlri = ["198.18.0.0/26"]): Buffer {
  return encodeMessage({ type: "UPDATE", withdrawn: [], attributes, nlri }, ctx);
}

/** Appends raw attribute bytes to an UPDATE's attribute block. */
function withRawAttribute(msg: Buffer, raw: number[]): Buffer {
  const body = msg.subarray(19);
  const wl = body.readUInt16BE(0);
  const al = body.readUInt16BE(2 + wl);
  const attrEnd = 4 + wl + al;
  const out = Buffer.concat([msg.subarray(0, 19 + attrEnd), Buffer.from(raw), msg.subarray(19 + attrEnd)]);
  out.writeUInt16BE(out.length, 16);
  out.writeUInt16BE(al + raw.length, 19 + 2 + wl);
  return out;
}

function decode(bytes: Buffer, c: CodecContext = ctx) {
  const r = decodeMessage(bytes, c);
  return { ...r, update: r.message as UpdateMessage };
}

describe("RFC 7606 outcomes", () => {
  it("a repeated attribute is discarded after the first copy (§3(g))", () => {
    const { error, update: m } = decode(
      withRawAttribute(update({ ...base, med: 5 }), [0x80, 4, 4, 0, 0, 0, 9]),
    );
    expect(error).toMatchObject({ action: "attribute-discard", discarded: ["MULTI_EXIT_DISC"] });
    expect(m.attributes.med).toBe(5);
  });

  it("a repeated MP_REACH_NLRI resets the session with Malformed Attribute List (§3(g))", () => {
    const mp = { afi: 2, safi: 1, nextHop: ["2001:db8:ffff::1"], nlri: ["2001:db8:1::/48"] };
    const raw = [
      0x80,
      14,
      25,
      0,
      2,
      1,
      16,
      ...Buffer.from("20010db8ffff00000000000000000001", "hex"),
      0,
      48,
      0x20,
      1,
      0x0d,
      0xb8,
      0,
      2,
    ];
    const { error } = decode(withRawAttribute(update({ ...base, mpReach: mp }), raw));
    expect(error).toMatchObject({ action: "session-reset", code: 3, subcode: 1 });
  });

  it("an unrecognized well-known attribute resets the session (RFC 4271 §6.3, 3/2)", () => {
    const { error } = decode(withRawAttribute(update(base), [0x40, 99, 1, 7]));
    expect(error).toMatchObject({ action: "session-reset", code: 3, subcode: 2 });
    expect([...error!.data]).toEqual([0x40, 99, 1, 7]);
  });

  it("an unknown optional transitive attribute is kept byte for byte", () => {
    const { error, update: m } = decode(withRawAttribute(update(base), [0xe0, 99, 2, 0xab, 0xcd]));
    expect(error).toBeUndefined();
    expect(m.attributes.unknown).toEqual([{ code: 99, flags: 0xe0, value: Buffer.from("ABCD", "hex") }]);
  });

  it("too few octets left for an attribute header is a framing error: treat-as-withdraw (§4)", () => {
    const { error, update: m } = decode(withRawAttribute(update(base), [0x40, 5]));
    expect(error).toMatchObject({ action: "treat-as-withdraw" });
    expect(m.nlri).toEqual(["198.18.0.0/26"]);
  });

  it("a malformed attribute in an UPDATE that only withdraws resets the session (§5.2)", () => {
    const msg = encodeMessage(
      { type: "UPDATE", withdrawn: [], attributes: { origin: "igp" }, nlri: [] },
      ctx,
    );
    const { error } = decode(withRawAttribute(msg, [0x80, 4, 3, 0, 0, 1]));
    expect(error).toMatchObject({ action: "session-reset", code: 3, subcode: 5 });
  });

  it("an attribute-discard error in an UPDATE without NLRI stays attribute-discard (§5.2)", () => {
    const msg = encodeMessage(
      { type: "UPDATE", withdrawn: [], attributes: { origin: "igp" }, nlri: [] },
      ctx,
    );
    const { error } = decode(withRawAttribute(msg, [0x40, 6, 1, 0]));
    expect(error).toMatchObject({ action: "attribute-discard", discarded: ["ATOMIC_AGGREGATE"] });
  });

  it("a well-known attribute sent with the Optional bit is malformed: treat-as-withdraw (§3(c))", () => {
    const { error } = decode(
      withRawAttribute(update({ origin: "igp", nextHop: "203.0.113.1" }), [0xc0, 2, 0]),
    );
    expect(error).toMatchObject({ action: "treat-as-withdraw", subcode: 4 });
  });

  it("on eBGP, an AS_PATH that does not start with the peer's AS is treat-as-withdraw (§7.2)", () => {
    const ebgp = makeContext({ asn4: true, ebgp: true, peerAs: 65001 });
    const wire = encodeMessage(
      { type: "UPDATE", withdrawn: [], attributes: base, nlri: ["198.18.0.0/26"] },
      ebgp,
    );
    expect(decode(wire, ebgp).error).toMatchObject({ action: "treat-as-withdraw", subcode: 11 });
    const ok = { ...base, asPath: [{ type: "AS_SEQUENCE" as const, asns: [65001] }] };
    const good = encodeMessage(
      { type: "UPDATE", withdrawn: [], attributes: ok, nlri: ["198.18.0.0/26"] },
      ebgp,
    );
    expect(decode(good, ebgp).error).toBeUndefined();
  });

  it("an NLRI prefix longer than 32 bits resets the session with Invalid Network Field (§3(j))", () => {
    const msg = update(base);
    const bad = Buffer.concat([msg, Buffer.from([33, 1, 2, 3, 4, 5])]);
    bad.writeUInt16BE(bad.length, 16);
    expect(decode(bad).error).toMatchObject({ action: "session-reset", code: 3, subcode: 10 });
  });

  it("MP_UNREACH_NLRI alone with an unknown family passes as it is", () => {
    const m: UpdateMessage = {
      type: "UPDATE",
      withdrawn: [],
      attributes: { mpUnreach: { afi: 25, safi: 65, withdrawn: [], withdrawnHex: "0102" } },
      nlri: [],
    };
    const { message, error } = decode(encodeMessage(m, ctx));
    expect(error).toBeUndefined();
    expect(message).toEqual(m);
  });

  it("AS4_PATH is reconciled only from an OLD speaker; from a NEW one it is discarded (RFC 6793 §4.1)", () => {
    const old = makeContext({ asn4: false });
    const attrs: PathAttributes = {
      ...base,
      asPath: [{ type: "AS_SEQUENCE", asns: [23456] }],
      as4Path: [{ type: "AS_SEQUENCE", asns: [400000] }],
    };
    const wire = encodeMessage(
      { type: "UPDATE", withdrawn: [], attributes: attrs, nlri: ["198.18.0.0/26"] },
      old,
    );
    expect(decode(wire, old).error).toBeUndefined();
  });
});

describe("OPEN checks", () => {
  const open = (over: object) =>
    encodeMessage(
      {
        type: "OPEN",
        version: 4,
        myAs: 64512,
        holdTime: 90,
        bgpId: "203.0.113.1",
        capabilities: [],
        ...over,
      },
      ctx,
    );

  it("version 3 gets Unsupported Version Number with 4 as data (RFC 4271 §6.2)", () => {
    const { error } = decodeMessage(open({ version: 3 }), ctx);
    expect(error).toMatchObject({ code: 2, subcode: 1, data: Buffer.from([0, 4]) });
  });

  it("BGP identifier 0.0.0.0 gets Bad BGP Identifier (RFC 6286 §2.2)", () => {
    expect(decodeMessage(open({ bgpId: "0.0.0.0" }), ctx).error).toMatchObject({ code: 2, subcode: 3 });
  });

  it("AS 0 gets Bad Peer AS (RFC 7607 §2)", () => {
    expect(decodeMessage(open({ myAs: 0 }), ctx).error).toMatchObject({ code: 2, subcode: 2 });
  });

  it("capabilities over 255 octets use RFC 9072 extended optional parameters and decode back", () => {
    const capabilities = Array.from({ length: 30 }, (_, i) => ({
      code: 200 + (i % 50),
      name: "unknown" as const,
      valueHex: "AB".repeat(10),
    }));
    const wire = open({ capabilities });
    expect(wire[28]).toBe(255);
    expect(wire[29]).toBe(255);
    const { message, error } = decodeMessage(wire, ctx);
    expect(error).toBeUndefined();
    expect(message).toMatchObject({ capabilities, extendedOptionalParameters: true });
  });
});
