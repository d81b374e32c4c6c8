// calico/node's rendering of BGPFilters into BIRD functions, ported line for line from confd
// (projectcalico/calico confd/pkg/resource/template/template_funcs.go: BGPFilterBIRDFuncs,
// filterStatement, BGPFilterFunctionName; util.go TruncateAndHashName) so that tests can run
// BIRD with exactly what a Calico node runs. test/datastore/bgpfilter-render.test.ts checks it
// against the outputs of confd's own tests (test/fixtures/calico-bgpfilter).
import { createHash } from "node:crypto";

/** A BGPFilter as stored: metadata.name and the spec's four rule lists, unvalidated. */
export interface RawFilter {
  metadata: { name: string };
  spec: Record<string, RawRule[] | undefined>;
}
type RawRule = Record<string, unknown>;

const BIRD_INT_MAX = 2147483647;
const MAX_BIRD_SYM_LEN = 64;

function truncateAndHash(name: string, maxLen: number): string {
  if (name.length <= maxLen) return name;
  const hash = createHash("sha256").update(name).digest("hex").toUpperCase();
  return `${name.slice(0, maxLen - 17)}_${hash.slice(0, 16)}`;
}

/** 'bgp_<name>_importFilterV4', the name truncated and hashed to fit BIRD's 64 characters. */
export function functionName(filter: string, direction: "import" | "export", version: 4 | 6): string {
  const fixed = `bgp__${direction}FilterV${version}`.length;
  return `'bgp_${truncateAndHash(filter, MAX_BIRD_SYM_LEN - fixed)}_${direction}FilterV${version}'`;
}

const OPERATORS: Record<string, string> = { Equal: "=", NotEqual: "!=", In: "~", NotIn: "!~" };

function cidrCondition(rule: RawRule): string {
  let cidr = rule.cidr as string;
  const lengths = rule.prefixLength as { min?: number; max?: number } | undefined;
  if (lengths) {
    const [ip, mask] = cidr.split("/") as [string, string];
    let min = Number(mask);
    let max = ip.includes(":") ? 128 : 32;
    if (lengths.min !== undefined) min = Math.max(min, lengths.min);
    if (lengths.max !== undefined) max = Math.min(max, lengths.max);
    cidr = `[ ${cidr}{${min},${max}} ]`;
  }
  return `(net ${OPERATORS[rule.matchOperator as string]} ${cidr})`;
}

function communityTuple(value: string): string {
  return `(${value.split(":").join(", ")})`;
}

/** confd's filterStatement: `if (conditions) then { operations; action; }`. */
function statement(rule: RawRule): string {
  const conditions: string[] = [];
  if (rule.cidr) conditions.push(cidrCondition(rule));
  if (rule.source === "RemotePeers") conditions.push("((defined(source))&&(source ~ [ RTS_BGP ]))");
  if (rule.interface) conditions.push(`((defined(ifname))&&(ifname ~ "${rule.interface}"))`);
  const communities = rule.communities as { values: string[] } | undefined;
  if (communities) {
    const value = communities.values[0] as string;
    const list = value.split(":").length === 3 ? "bgp_large_community" : "bgp_community";
    conditions.push(`(${communityTuple(value)} ~ ${list})`);
  }
  const path = rule.asPathPrefix as number[] | undefined;
  if (path?.length) conditions.push(`(bgp_path ~ [= ${path.join(" ")} * =])`);
  if (rule.priority !== undefined)
    conditions.push(
      `(defined(bgp_local_pref)&&(bgp_local_pref = ${BIRD_INT_MAX - (rule.priority as number)}))`,
    );
  const body: string[] = [];
  for (const op of (rule.operations as Record<string, Record<string, unknown>>[] | undefined) ?? []) {
    if (op.addCommunity) {
      const value = op.addCommunity.value as string;
      const list = value.split(":").length === 3 ? "bgp_large_community" : "bgp_community";
      body.push(`${list}.add(${communityTuple(value)});`);
    } else if (op.prependASPath) {
      const asns = op.prependASPath.prefix as number[];
      for (let i = asns.length - 1; i >= 0; i--) body.push(`bgp_path.prepend(${asns[i]});`);
    } else if (op.setPriority) {
      body.push(`bgp_local_pref = ${BIRD_INT_MAX - (op.setPriority.value as number)};`);
    }
  }
  body.push(`${(rule.action as string).toLowerCase()};`);
  const text = body.join(" ");
  return conditions.length ? `if (${conditions.join("&&")}) then { ${text} }` : text;
}

/** confd's BGPFilterBIRDFuncs: the functions of every filter, for one IP version. */
export function renderFilters(filters: RawFilter[], version: 4 | 6): string[] {
  const lines: string[] = [];
  const sorted = [...filters].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  for (const f of sorted) {
    const dirs = (["import", "export"] as const)
      .map((dir) => ({ dir, rules: f.spec[`${dir}V${version}`] ?? [] }))
      .filter((d) => d.rules.length > 0);
    if (!dirs.length) continue;
    lines.push(`# v${version} BGPFilter ${f.metadata.name}`);
    for (const { dir, rules } of dirs) {
      const name = functionName(f.metadata.name, dir, version);
      const typed = rules.some((r) => r.peerType);
      lines.push(typed ? `function ${name}(bool is_same_as) {` : `function ${name}() {`);
      for (const r of rules) {
        let s = statement(r);
        if (r.peerType === "iBGP") s = `if (is_same_as) then { ${s} }`;
        if (r.peerType === "eBGP") s = `if (!is_same_as) then { ${s} }`;
        lines.push(`  ${s}`);
      }
      lines.push("}");
    }
  }
  if (!lines.length) lines.push(`# No v${version} BGPFilters configured`);
  return lines;
}

/** How a peering calls a filter: with is_same_as when a rule has a PeerType (bgp_processor.go). */
export function filterCall(
  f: RawFilter,
  direction: "import" | "export",
  version: 4 | 6,
  sameAs: boolean,
): string {
  const rules = f.spec[`${direction}V${version}`] ?? [];
  if (!rules.length) return "";
  const name = functionName(f.metadata.name, direction, version);
  return rules.some((r) => r.peerType) ? `${name}(${sameAs});` : `${name}();`;
}
