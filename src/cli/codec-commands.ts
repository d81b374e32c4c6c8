// `routereflector decode` and `routereflector encode`: the codec from the shell, one JSON object
// per message. The JSON is the codec's own message model (docs/codec-json.md).
import { parseArgs } from "node:util";
import {
  type BgpError,
  type BgpMessage,
  type CodecContext,
  decodeMessage,
  describeError,
  EncodeError,
  encodeMessage,
  Framer,
  jsonReplacer,
  jsonReviver,
  makeContext,
  type PathAttributes,
  reconcileAs4,
} from "../bgp/index.js";

export class UsageError extends Error {}

const CONTEXT_OPTIONS = {
  asn2: { type: "boolean" },
  addpath: { type: "string" },
  "extended-message": { type: "boolean" },
  ebgp: { type: "boolean" },
  "peer-as": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const CODEC_USAGE = `usage: routereflector decode [options] [HEX...]     (reads stdin when no HEX is given)
       routereflector encode [options] < messages.jsonl
options (the session state both sides negotiated):
  --asn2                 2-octet AS numbers (no RFC 6793 capability)
  --addpath ipv4,ipv6    families with ADD-PATH Path Identifiers (RFC 7911)
  --extended-message     messages up to 65535 octets (RFC 8654)
  --ebgp                 the peer is external (RFC 7606 eBGP discard rules)
  --peer-as N            the peer's AS, for the eBGP first-AS check`;

function contextFrom(values: { [k: string]: string | boolean | undefined }): CodecContext {
  const families = String(values.addpath ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
  for (const f of families)
    if (f !== "ipv4" && f !== "ipv6") throw new UsageError(`--addpath: unknown family ${f}`);
  const peerAs = values["peer-as"] === undefined ? undefined : Number(values["peer-as"]);
  if (peerAs !== undefined && !(Number.isInteger(peerAs) && peerAs >= 0 && peerAs <= 0xffffffff)) {
    throw new UsageError(`--peer-as: not an AS number: ${values["peer-as"]}`);
  }
  return makeContext({
    asn4: !values.asn2,
    addPath: { ipv4: families.includes("ipv4"), ipv6: families.includes("ipv6") },
    extendedMessage: Boolean(values["extended-message"]),
    ebgp: Boolean(values.ebgp),
    ...(peerAs === undefined ? {} : { peerAs }),
  });
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: CONTEXT_OPTIONS, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function errorJson(e: BgpError): Record<string, unknown> {
  const out: Record<string, unknown> = { action: e.action };
  // code/subcode are given where a NOTIFICATION would (or, for afi-safi-disable, could) be sent.
  if (e.action === "session-reset" || e.action === "afi-safi-disable") {
    out.code = e.code;
    out.subcode = e.subcode;
    out.description = describeError(e.code, e.subcode);
    if (e.data.length) out.dataHex = e.data.toString("hex").toUpperCase();
  }
  if (e.afi !== undefined) Object.assign(out, { afi: e.afi, safi: e.safi });
  if (e.discarded.length) out.discarded = e.discarded;
  out.reason = e.message;
  return out;
}

const TYPE_NAMES: Readonly<Record<number, BgpMessage["type"]>> = {
  1: "OPEN",
  2: "UPDATE",
  3: "NOTIFICATION",
  4: "KEEPALIVE",
  5: "ROUTE-REFRESH",
};

/** One JSON object for one whole message, the derived fields added for a reader. */
export function messageJson(frame: Buffer, ctx: CodecContext): Record<string, unknown> {
  const { message, error } = decodeMessage(frame, ctx);
  const out: Record<string, unknown> = message
    ? { ...message }
    : { type: TYPE_NAMES[frame[18] ?? 0] ?? "unknown" };
  out.length = frame.length;
  if (message?.type === "NOTIFICATION") out.description = describeError(message.code, message.subcode);
  if (message?.type === "UPDATE" && !ctx.asn4) {
    const a: PathAttributes = message.attributes;
    if (a.as4Path || a.as4Aggregator) out.reconciled = reconcileAs4(a);
  }
  if (error) out.error = errorJson(error);
  return out;
}

function hexToBuffer(text: string): Buffer {
  const clean = text.replace(/0x/gi, "").replace(/[\s:]/g, "");
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new UsageError(`not hex: ${text.slice(0, 40)}`);
  return Buffer.from(clean, "hex");
}

/** Splits the octets into messages with the framer; what is left over is reported as an error. */
export function decodeHex(text: string, ctx: CodecContext): Record<string, unknown>[] {
  const framer = new Framer(ctx.extendedMessage);
  framer.push(hexToBuffer(text));
  const out: Record<string, unknown>[] = [];
  for (let m = framer.next(); m !== undefined; m = framer.next()) {
    out.push(Buffer.isBuffer(m) ? messageJson(m, ctx) : { error: errorJson(m) });
  }
  if (framer.pending > 0) {
    out.push({
      error: { action: "session-reset", reason: `${framer.pending} octets left over: an incomplete message` },
    });
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function decodeCommand(argv: string[], print: (line: string) => void): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    print(CODEC_USAGE);
    return 0;
  }
  const ctx = contextFrom(values);
  const inputs = positionals.length ? positionals : (await readStdin()).split(/\n/).filter((l) => l.trim());
  for (const hex of inputs) for (const obj of decodeHex(hex, ctx)) print(JSON.stringify(obj, jsonReplacer));
  return 0;
}

export async function encodeCommand(
  argv: string[],
  print: (line: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.help) {
    print(CODEC_USAGE);
    return 0;
  }
  if (positionals.length) throw new UsageError("encode reads JSON lines on stdin and takes no arguments");
  const ctx = contextFrom(values);
  let failures = 0;
  const lines = (await readStdin()).split("\n");
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    try {
      print(
        encodeMessage(JSON.parse(line, jsonReviver) as BgpMessage, ctx)
          .toString("hex")
          .toUpperCase(),
      );
    } catch (e) {
      if (!(e instanceof EncodeError || e instanceof SyntaxError || e instanceof TypeError)) throw e;
      printError(`line ${i + 1}: ${e.message}`);
      failures++;
    }
  }
  return failures ? 1 : 0;
}
