// Properties of the codec, checked on generated input with fast-check.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type BgpMessage,
  type CodecContext,
  DEFAULT_CONTEXT,
  decodeMessage,
  encodeMessage,
  Framer,
  KEEPALIVE,
  makeContext,
} from "../../src/bgp/index.js";
import {
  applyMutations,
  context,
  type Mutation,
  mutation as mutationOf,
  notificationMessage,
  openMessage,
  routeRefreshMessage,
  updateMessage,
} from "../helpers/arbitraries.js";
import { loadVectors } from "../helpers/shared.js";

/** Drops what the decoder derives and the encoder ignores. */
function withoutDerived(m: BgpMessage | undefined): unknown {
  if (!m) return m;
  const copy = { ...m } as Record<string, unknown>;
  delete copy.endOfRib;
  delete copy.shutdownCommunication;
  return copy;
}

const anyMessage = (ctx: CodecContext): fc.Arbitrary<BgpMessage> =>
  fc.oneof(
    { arbitrary: updateMessage(ctx), weight: 4 },
    openMessage,
    notificationMessage,
    routeRefreshMessage,
    fc.constant({ type: "KEEPALIVE" } as const),
  );

const withContext = context.chain((ctx) => fc.tuple(fc.constant(ctx), anyMessage(ctx)));

describe("encode then decode", () => {
  it("gives back every generated message unchanged, without error", () => {
    fc.assert(
      fc.property(withContext, ([ctx, m]) => {
        const wire = encodeMessage(m, ctx);
        const { message, error } = decodeMessage(wire, ctx);
        expect(error).toBeUndefined();
        expect(withoutDerived(message)).toEqual(m);
        expect(encodeMessage(message!, ctx).equals(wire)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

/** Byte mutations a fuzzer would make: flips, truncation, insertion, length-field changes. */
const mutation = mutationOf(8);

function mutate(buf: Buffer, ms: Mutation[]): Buffer {
  const out = applyMutations(buf, ms);
  // Keep the header's Length field honest half of the time, so the body decoders are reached.
  if (out.length >= 19 && out.length <= 0xffff && (out[0]! & 1) === 0) out.writeUInt16BE(out.length, 16);
  return out;
}

function decodesToTypedOutcome(bytes: Buffer, ctx: CodecContext): void {
  const result = decodeMessage(bytes, ctx);
  if (result.error?.internal) throw result.error;
  expect(result.message !== undefined || result.error !== undefined).toBe(true);
}

describe("malformed input", () => {
  const seeds = loadVectors().map((v) => Buffer.from(v.hex, "hex"));

  it("mutated vectors produce only typed errors, never an exception", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        context,
        (seed, ms, ctx) => {
          const bytes = mutate(seed, ms);
          expect(() => decodesToTypedOutcome(bytes, ctx)).not.toThrow();
        },
      ),
      { numRuns: 20000 },
    );
  });

  it("mutated generated messages produce only typed errors", () => {
    fc.assert(
      fc.property(withContext, fc.array(mutation, { minLength: 1, maxLength: 3 }), ([ctx, m], ms) => {
        decodesToTypedOutcome(mutate(encodeMessage(m, ctx), ms), ctx);
      }),
      { numRuns: 10000 },
    );
  });

  it("random bytes behind a valid header produce only typed errors", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.uint8Array({ maxLength: 200 }),
        context,
        (type, body, ctx) => {
          const msg = Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from([0, 0, type]), body]);
          msg.writeUInt16BE(msg.length, 16);
          decodesToTypedOutcome(msg, ctx);
        },
      ),
      { numRuns: 20000 },
    );
  });

  it("random bytes fed to the framer produce messages or one typed header error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const framer = new Framer();
        framer.push(Buffer.concat([Buffer.alloc(16, 0xff), Buffer.from(bytes)]));
        for (let out = framer.next(); out !== undefined; out = framer.next()) {
          if (!Buffer.isBuffer(out)) expect(out.internal).toBe(false);
          else decodesToTypedOutcome(out, DEFAULT_CONTEXT);
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe("the framer", () => {
  const ctx = makeContext({ asn4: true });
  const stream = fc
    .array(anyMessage(ctx), { minLength: 1, maxLength: 8 })
    .map((ms) => ms.map((m) => encodeMessage(m, ctx)));

  it("gives the same messages for every way of splitting the stream into chunks", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const all = Buffer.concat(messages);
        const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const framer = new Framer();
        const out: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, all.length]) {
          framer.push(all.subarray(prev, p));
          prev = p;
          for (let m = framer.next(); m !== undefined; m = framer.next()) {
            if (!Buffer.isBuffer(m)) throw m;
            out.push(Buffer.from(m));
          }
        }
        expect(out).toEqual(messages);
        expect(framer.pending).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("says it holds a whole message exactly when next() would return one", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
        const all = Buffer.concat(messages);
        const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const framer = new Framer();
        let prev = 0;
        for (const p of [...points, all.length]) {
          framer.push(all.subarray(prev, p));
          prev = p;
          for (;;) {
            const whole = framer.whole;
            const m = framer.next();
            expect(whole).toBe(m !== undefined);
            if (m === undefined) break;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("splits a sample stream at every byte offset", () => {
    const messages = loadVectors()
      .filter((v) => v.valid && v.hex.length < 400)
      .slice(0, 6)
      .map((v) => Buffer.from(v.hex, "hex"));
    const all = Buffer.concat([...messages, KEEPALIVE]);
    for (let cut = 0; cut <= all.length; cut++) {
      const framer = new Framer();
      const out: Buffer[] = [];
      for (const part of [all.subarray(0, cut), all.subarray(cut)]) {
        framer.push(part);
        for (let m = framer.next(); m !== undefined; m = framer.next()) out.push(Buffer.from(m as Buffer));
      }
      expect(out).toEqual([...messages, KEEPALIVE]);
    }
  });

  it("returns a message that lies inside one chunk as a view of it, without copying", () => {
    const chunk = Buffer.concat([KEEPALIVE, KEEPALIVE]);
    const framer = new Framer();
    framer.push(chunk);
    const first = framer.next() as Buffer;
    expect(first.buffer).toBe(chunk.buffer);
    expect(first.byteOffset).toBe(chunk.byteOffset);
  });

  it("answers a bad marker with Connection Not Synchronized and stops", () => {
    const framer = new Framer();
    const bad = Buffer.from(KEEPALIVE);
    bad[3] = 0;
    framer.push(Buffer.concat([bad, KEEPALIVE]));
    const err = framer.next();
    expect(err).toMatchObject({ code: 1, subcode: 1, action: "session-reset" });
    expect(framer.next()).toBeUndefined();
  });

  it("answers a length over 4096 with Bad Message Length unless Extended Message is negotiated", () => {
    const big = Buffer.alloc(5000, 0);
    big.fill(0xff, 0, 16);
    big.writeUInt16BE(5000, 16);
    big[18] = 2;
    const plain = new Framer();
    plain.push(big);
    expect(plain.next()).toMatchObject({ code: 1, subcode: 2, data: Buffer.from([0x13, 0x88]) });
    const extended = new Framer(true);
    extended.push(big);
    expect(Buffer.isBuffer(extended.next())).toBe(true);
  });
});
