// fast-check generators of canonical BGP messages: what our encoder produces and our decoder
// gives back unchanged (prefixes with host bits clear, IPv6 text in RFC 5952 form, ...).
import fc from "fast-check";
import type {
  AsSegment,
  Capability,
  CodecContext,
  Nlri,
  NotificationMessage,
  OpenMessage,
  PathAttributes,
  RouteRefreshMessage,
  UpdateMessage,
} from "../../src/bgp/index.js";
import { formatPrefix } from "../../src/bgp/index.js";

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const hexOf = (a: Uint8Array) => Buffer.from(a).toString("hex").toUpperCase();

export const ipv4 = bytes(4).map((b) => b.join("."));
export const ipv6 = bytes(16).map((b) => formatPrefix(2, b, 0, 128).replace(/\/128$/, ""));
/** RFC 2545 §3: the second next hop of a 32-octet pair is link-local. */
export const ipv6LinkLocal = bytes(8).map((b) =>
  formatPrefix(2, Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...b]), 0, 128).replace(/\/128$/, ""),
);
export const routerId = bytes(4)
  .filter((b) => b.some((x) => x !== 0))
  .map((b) => b.join("."));

/**
 * Any prefix, or (realistic) one such as real tables hold: /8 or longer, not starting with a zero
 * octet. Wireshark guesses ADD-PATH from the bytes and misreads runs of short prefixes.
 */
function prefix(afi: 1 | 2, realistic: boolean) {
  const max = afi === 1 ? 32 : 128;
  return fc.tuple(fc.integer({ min: realistic ? 8 : 0, max }), bytes(max / 8)).map(([bits, addr]) => {
    if (realistic) addr[0] = 1 + (addr[0]! % 223);
    return formatPrefix(afi, addr, 0, bits);
  });
}

function nlri(afi: 1 | 2, addPath: boolean, max = 6, realistic = false): fc.Arbitrary<Nlri[]> {
  const p = prefix(afi, realistic);
  const one: fc.Arbitrary<Nlri> = addPath ? fc.record({ pathId: u32, prefix: p }) : p;
  return fc.array(one, { maxLength: max });
}

function asPath(asnMax: number): fc.Arbitrary<AsSegment[]> {
  const seg = fc.record({
    type: fc.constantFrom("AS_SET", "AS_SEQUENCE", "AS_CONFED_SEQUENCE", "AS_CONFED_SET") as fc.Arbitrary<
      AsSegment["type"]
    >,
    asns: fc.array(fc.integer({ min: 0, max: asnMax }), { minLength: 1, maxLength: 8 }),
  });
  return fc.array(seg, { maxLength: 3 });
}

const community = fc.tuple(u16, u16).map(([a, b]) => `${a}:${b}`);
const large = fc.tuple(u32, u32, u32).map(([a, b, c]) => `${a}:${b}:${c}`);

/** Attributes in any order, as a peer might send them. */
function attributes(
  ctx: CodecContext,
  reachV4: boolean,
  mp: fc.Arbitrary<PathAttributes>,
): fc.Arbitrary<PathAttributes> {
  const asnMax = ctx.asn4 ? 0xffffffff : 0xffff;
  const optional: Record<string, fc.Arbitrary<unknown>> = {
    med: u32,
    localPref: u32,
    atomicAggregate: fc.constant(true),
    aggregator: fc.record({ asn: fc.integer({ min: 0, max: asnMax }), id: ipv4 }),
    communities: fc.array(community, { minLength: 1, maxLength: 4 }),
    originatorId: ipv4,
    clusterList: fc.array(ipv4, { minLength: 1, maxLength: 3 }),
    extCommunities: fc.array(bytes(8).map(hexOf), { minLength: 1, maxLength: 3 }),
    ipv6ExtCommunities: fc.array(bytes(20).map(hexOf), { minLength: 1, maxLength: 2 }),
    largeCommunities: fc.array(large, { minLength: 1, maxLength: 3 }),
    unknown: fc.array(
      fc.record({
        code: fc.integer({ min: 100, max: 254 }),
        flags: fc.constantFrom(0xc0, 0xe0, 0x80),
        value: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
      }),
      { minLength: 1, maxLength: 1 },
    ),
  };
  if (!ctx.asn4) {
    optional.as4Path = asPath(0xffffffff).map((p) => p.filter((s) => !s.type.startsWith("AS_CONFED")));
    optional.as4Aggregator = fc.record({ asn: u32, id: ipv4 });
  }
  const base = fc.record(
    {
      origin: fc.constantFrom("igp", "egp", "incomplete") as fc.Arbitrary<PathAttributes["origin"]>,
      asPath: asPath(asnMax),
      nextHop: ipv4,
    },
    { requiredKeys: reachV4 ? ["origin", "asPath", "nextHop"] : ["origin", "asPath"] },
  );
  const extra = fc.record(optional, { requiredKeys: [] });
  return fc.tuple(base, extra, mp, fc.func(fc.integer())).map(([b, e, m, order]) => {
    const all = { ...b, ...e, ...m } as Record<string, unknown>;
    const keys = Object.keys(all).filter(
      (k) => all[k] !== undefined && !(k === "as4Path" && (all[k] as []).length === 0),
    );
    keys.sort((x, y) => order(x) - order(y) || x.localeCompare(y));
    return Object.fromEntries(keys.map((k) => [k, all[k]])) as PathAttributes;
  });
}

export function updateMessage(ctx: CodecContext, realistic = false): fc.Arbitrary<UpdateMessage> {
  const mpReach = fc.oneof(
    fc.record({
      afi: fc.constant(2),
      safi: fc.constant(1),
      nextHop: fc.oneof(fc.tuple(ipv6), fc.tuple(ipv6, ipv6LinkLocal)),
      nlri: nlri(2, ctx.addPath.ipv6, 6, realistic),
    }),
    fc.record({
      afi: fc.constant(1),
      safi: fc.constant(1),
      nextHop: fc.tuple(ipv4),
      nlri: nlri(1, ctx.addPath.ipv4, 6, realistic),
    }),
  );
  const mpUnreach = fc.record({
    afi: fc.constant(2),
    safi: fc.constant(1),
    withdrawn: nlri(2, ctx.addPath.ipv6, 6, realistic),
  });
  return fc
    .record({
      withdrawn: nlri(1, ctx.addPath.ipv4, 6, realistic),
      nlri: nlri(1, ctx.addPath.ipv4, 12, realistic),
      mpReach: fc.option(mpReach, { nil: undefined }),
      mpUnreach: fc.option(mpUnreach, { nil: undefined }),
      withAttrs: fc.boolean(),
    })
    .chain(({ withdrawn, nlri: reach, mpReach: r, mpUnreach: u, withAttrs }) => {
      const mp: PathAttributes = {};
      if (r) mp.mpReach = r as PathAttributes["mpReach"];
      if (u) mp.mpUnreach = u;
      // Path attributes are required with NLRI (RFC 4271 §5), and allowed without only when valid.
      const needAttrs = reach.length > 0 || r !== undefined || withAttrs;
      const attrs = needAttrs ? attributes(ctx, reach.length > 0, fc.constant(mp)) : fc.constant(mp);
      return attrs.map(
        (attributes): UpdateMessage => ({ type: "UPDATE", withdrawn, attributes, nlri: reach }),
      );
    });
}

const capability: fc.Arbitrary<Capability> = fc.oneof(
  fc.record({ code: fc.constant(1), name: fc.constant("multiprotocol"), afi: u16, safi: u8 }),
  fc.record({ code: fc.constant(2), name: fc.constant("route-refresh") }),
  fc.record({ code: fc.constant(6), name: fc.constant("extended-message") }),
  fc.record({ code: fc.constant(70), name: fc.constant("enhanced-route-refresh") }),
  fc.record({ code: fc.constant(65), name: fc.constant("four-octet-as"), asn: u32 }),
  fc.record({
    code: fc.constant(64),
    name: fc.constant("graceful-restart"),
    restartFlags: fc.integer({ min: 0, max: 15 }),
    restartTime: fc.integer({ min: 0, max: 4095 }),
    families: fc.array(fc.record({ afi: u16, safi: u8, flags: u8 }), { maxLength: 3 }),
  }),
  fc.record({
    code: fc.constant(69),
    name: fc.constant("add-path"),
    families: fc.array(fc.record({ afi: u16, safi: u8, sendReceive: fc.integer({ min: 1, max: 3 }) }), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  fc.record({
    code: fc.constant(71),
    name: fc.constant("long-lived-graceful-restart"),
    families: fc.array(
      fc.record({ afi: u16, safi: u8, flags: u8, staleTime: fc.integer({ min: 0, max: 0xffffff }) }),
      {
        maxLength: 2,
      },
    ),
  }),
  fc.record({
    code: fc.constant(5),
    name: fc.constant("extended-next-hop"),
    entries: fc.array(fc.record({ afi: u16, safi: u16, nextHopAfi: u16 }), { minLength: 1, maxLength: 2 }),
  }),
  fc.record({
    code: fc.constant(73),
    name: fc.constant("fqdn"),
    hostname: fc.string({ maxLength: 20 }),
    domain: fc.string({ maxLength: 20 }),
  }),
  fc.record({
    code: fc.constant(75),
    name: fc.constant("software-version"),
    value: fc.string({ maxLength: 30 }),
  }),
  fc.record({
    code: fc.integer({ min: 200, max: 254 }),
    name: fc.constant("unknown"),
    valueHex: fc.uint8Array({ maxLength: 8 }).map(hexOf),
  }),
) as fc.Arbitrary<Capability>;

export const openMessage: fc.Arbitrary<OpenMessage> = fc
  .record({
    myAs: fc.integer({ min: 1, max: 0xffff }),
    holdTime: fc.oneof(fc.constant(0), fc.integer({ min: 3, max: 0xffff })),
    bgpId: routerId,
    capabilities: fc.array(capability, { maxLength: 8 }),
    oneParameter: fc.boolean(),
  })
  .map(({ oneParameter, capabilities, ...rest }) => {
    const m: OpenMessage = { type: "OPEN", version: 4, ...rest, capabilities };
    if (oneParameter && capabilities.length > 1) m.capabilityGroups = [capabilities.length];
    return m;
  });

export const notificationMessage: fc.Arbitrary<NotificationMessage> = fc
  .record({ code: fc.integer({ min: 1, max: 7 }), subcode: u8, data: fc.uint8Array({ maxLength: 40 }) })
  .map(({ code, subcode, data }) => ({ type: "NOTIFICATION", code, subcode, dataHex: hexOf(data) }));

export const routeRefreshMessage: fc.Arbitrary<RouteRefreshMessage> = fc.record({
  type: fc.constant("ROUTE-REFRESH" as const),
  afi: u16,
  safi: u8,
  subtype: fc.integer({ min: 0, max: 2 }),
});

export const context: fc.Arbitrary<CodecContext> = fc.record({
  asn4: fc.boolean(),
  addPath: fc.record({ ipv4: fc.boolean(), ipv6: fc.boolean() }),
  extendedMessage: fc.constant(false),
  ebgp: fc.constant(false),
});

/** Byte mutations a fuzzer would make: flips, truncation, insertion of up to maxInsert octets. */
export function mutation(maxInsert: number) {
  return fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: maxInsert }),
    }),
  );
}

export type Mutation = ReturnType<typeof mutation> extends fc.Arbitrary<infer T> ? T : never;

/** The octets with the mutations applied in order (positions wrap around the current length). */
export function applyMutations(bytes: Buffer, ms: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of ms) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.kind === "flip") out[at] = m.value;
    else if (m.kind === "cut") out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
  }
  return out;
}
