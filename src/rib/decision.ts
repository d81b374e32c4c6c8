// The decision process: RFC 4271 §9.1.2.2 with the route reflection rules of RFC 4456 §9.
// Next hops are not resolved (the reflector forwards no traffic), so step (e) is skipped and
// every path is taken as reachable, as BIRD and FRR route reflectors do.
//
//   step                      prefer
//   llgr-stale                not long-lived stale (RFC 9494 §4.4: LLGR_STALE is least preferred)
//   local-pref                higher LOCAL_PREF (RFC 4271 §9.1.1; absent: 100)
//   as-path-length            shorter AS_PATH (AS_SET counts 1, confederation segments 0)
//   origin                    lower ORIGIN (IGP < EGP < INCOMPLETE)
//   med                       lower MED, among paths from the same neighbour AS (absent: 0)
//   ebgp-over-ibgp            learned over eBGP
//   router-id                 lower BGP identifier, the ORIGINATOR_ID when present (RFC 4456 §9)
//   cluster-list-length       shorter CLUSTER_LIST (RFC 4456 §9: between steps f and g)
//   peer-address              lower peer address
//
// Selection runs each step over the whole candidate set, so MED, which is only comparable
// within one neighbour AS, cannot make the result depend on the order paths arrived in.

export interface Candidate {
  /** RFC 9494: carries LLGR_STALE */
  llgrStale: boolean;
  localPref: number;
  asPathLength: number;
  origin: number;
  med: number;
  /** the first AS of the AS_PATH (0 for a path originated in our AS) */
  neighborAs: number;
  ebgp: boolean;
  clusterListLength: number;
  /** ORIGINATOR_ID if present, else the peer's BGP identifier, as a number */
  routerId: number;
  /** the peer's address, as comparable text (IPv4 dotted or IPv6 expanded) */
  peerAddress: string;
}

export type Step =
  | "llgr-stale"
  | "local-pref"
  | "as-path-length"
  | "origin"
  | "med"
  | "ebgp-over-ibgp"
  | "router-id"
  | "cluster-list-length"
  | "peer-address"
  | "equal";

type Pick<T> = (paths: T[], key: (p: T) => Candidate) => T[];

function keepMin<T>(paths: T[], value: (p: T) => number): T[] {
  let min = Number.POSITIVE_INFINITY;
  for (const p of paths) min = Math.min(min, value(p));
  return paths.filter((p) => value(p) === min);
}

/** The steps in order, each narrowing the candidate set. */
const STEPS: readonly [Step, Pick<unknown>][] = [
  ["llgr-stale", (ps, k) => keepMin(ps, (p) => (k(p).llgrStale ? 1 : 0))],
  ["local-pref", (ps, k) => keepMin(ps, (p) => -k(p).localPref)],
  ["as-path-length", (ps, k) => keepMin(ps, (p) => k(p).asPathLength)],
  ["origin", (ps, k) => keepMin(ps, (p) => k(p).origin)],
  [
    "med",
    (ps, k) => {
      // RFC 4271 §9.1.2.2 (c): drop a path if another from the same neighbour AS has a lower MED.
      const best = new Map<number, number>();
      for (const p of ps) {
        const c = k(p);
        best.set(c.neighborAs, Math.min(best.get(c.neighborAs) ?? Number.POSITIVE_INFINITY, c.med));
      }
      return ps.filter((p) => k(p).med === best.get(k(p).neighborAs));
    },
  ],
  ["ebgp-over-ibgp", (ps, k) => keepMin(ps, (p) => (k(p).ebgp ? 0 : 1))],
  ["router-id", (ps, k) => keepMin(ps, (p) => k(p).routerId)],
  ["cluster-list-length", (ps, k) => keepMin(ps, (p) => k(p).clusterListLength)],
  [
    "peer-address",
    (ps, k) => {
      let min: string | undefined;
      for (const p of ps) if (min === undefined || k(p).peerAddress < min) min = k(p).peerAddress;
      return ps.filter((p) => k(p).peerAddress === min);
    },
  ],
];

/** The best of a set of paths, or undefined for an empty set. */
export function selectBest<T>(paths: readonly T[], key: (p: T) => Candidate): T | undefined {
  if (paths.length <= 1) return paths[0];
  let left = paths as T[];
  for (const [, pick] of STEPS) {
    if (left.length <= 1) break;
    left = (pick as Pick<T>)(left, key);
  }
  return left[0];
}

/** Which of two paths wins, and the step that decided it (for `routes` output and tests). */
export function compare(a: Candidate, b: Candidate): { winner: "a" | "b" | "equal"; step: Step } {
  for (const [step, pick] of STEPS) {
    const left = (pick as Pick<Candidate>)([a, b], (x) => x);
    if (left.length === 1) return { winner: left[0] === a ? "a" : "b", step };
  }
  return { winner: "equal", step: "equal" };
}

/** Why `loser` is not the best: the step at which it left the candidate set. */
export function explain<T>(paths: readonly T[], loser: T, key: (p: T) => Candidate): Step {
  let left = paths as T[];
  for (const [step, pick] of STEPS) {
    left = (pick as Pick<T>)(left, key);
    if (!left.includes(loser)) return step;
  }
  return "equal";
}

/** IPv4 dotted or IPv6 text as a string that sorts like the address. */
export function addressKey(addr: string): string {
  if (!addr.includes(":")) {
    return addr
      .split(".")
      .map((o) => o.padStart(3, "0"))
      .join(".");
  }
  const [head, tail] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return `~${groups.map((g) => g.padStart(4, "0")).join(":")}`;
}
