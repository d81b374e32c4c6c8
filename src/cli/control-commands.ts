// The operator's commands: `status` and `routes` read a running reflector's HTTP endpoint;
// `config check` reads the configuration and the datastore once and prints the peerings.
import { parseArgs } from "node:util";
import { pino } from "pino";
import type { PeerDetail, RouteEntry, Status } from "../control/index.js";
import { type Config, configOrError, makeSource } from "../daemon/index.js";
import { computePeerings, isPrefixOrAddress, parseAddress, parseCidr, Store } from "../datastore/index.js";
import { UsageError } from "./codec-commands.js";

export const CONTROL_USAGE = `usage: routereflector status [PEER] [--json] [--http HOST:PORT]
         every peer; or one in full: capabilities, timers, counters, last error, what it is sent
       routereflector routes [PREFIX | ADDRESS] [--peer ADDR] [--json] [--http HOST:PORT]
         every path with its age; an ADDRESS shows the longest prefix that covers it
       routereflector why PREFIX --peer ADDR [--json] [--http HOST:PORT]
         whether the peer is sent each path of the prefix, and if not, why
       routereflector refresh PEER [--family ipv4|ipv6] [--http HOST:PORT]
         asks the peer to send its routes again (ROUTE-REFRESH, RFC 2918)
       routereflector config check [the run flags...]
status and routes ask the running reflector at --http, else HTTP_LISTEN, else 127.0.0.1:9179.`;

type Print = (line: string) => void;

function options(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        json: { type: "boolean" },
        http: { type: "string" },
        peer: { type: "string" },
        family: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function get<T>(http: string | undefined, path: string, method = "GET"): Promise<T> {
  const where = http ?? process.env.HTTP_LISTEN ?? "127.0.0.1:9179";
  if (where === "off")
    throw new UsageError("HTTP_LISTEN is off: give --http HOST:PORT of a running reflector");
  // A reflector busy with other /routes answers says when to come back: wait, up to 5 times.
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`http://${where}${path}`, { method });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      throw new UsageError(
        `no reflector answers at ${where} (${cause}); is it running, and is HTTP_LISTEN the same?`,
      );
    }
    const retryAfter = Number(res.headers.get("retry-after"));
    if (res.status === 503 && retryAfter > 0 && attempt < 5) {
      await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, retryAfter * 1000));
      continue;
    }
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      throw new UsageError(body.error ?? `${where}${path}: HTTP ${res.status}`);
    }
    return (await res.json()) as T;
  }
}

/** A table in calicoctl's style: +---+ borders, upper-case centred headings. */
export function table(headings: string[], rows: string[][]): string {
  const widths = headings.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const centre = (s: string, w: number) => {
    const left = Math.floor((w - s.length) / 2);
    return " ".repeat(left) + s + " ".repeat(w - s.length - left);
  };
  const row = (cells: string[], fmt: (s: string, w: number) => string) =>
    `| ${cells.map((c, i) => fmt(c, widths[i] as number)).join(" | ")} |`;
  return [line, row(headings, centre), line, ...rows.map((r) => row(r, (s, w) => s.padEnd(w))), line].join(
    "\n",
  );
}

/** BIRD's "since": the time today, else the date. */
function since(iso: string | null, now = new Date()): string {
  if (!iso) return "";
  const t = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (t.toDateString() === now.toDateString())
    return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
}

export function formatStatus(s: Status): string {
  const head = s.routerId
    ? `routereflector is running: ${s.mode} mode${s.node ? ` as node ${s.node}` : ""}, router ID ${s.routerId}, AS ${s.localAs}, cluster ID ${s.clusterId}, BGP port ${s.listenPort}.`
    : "routereflector is running, but not peering yet: no router ID.";
  const ds = `Datastore ${s.datastore.type}: ${s.datastore.synced ? "synced" : "not synced"}${s.datastore.lastChange ? `, last change ${s.datastore.lastChange}` : ""}.`;
  const out = [head, ds];
  for (const [family, title] of [
    ["ipv4", "IPv4"],
    ["ipv6", "IPv6"],
  ] as const) {
    const peers = s.peers.filter((p) => p.address.includes(":") === (family === "ipv6"));
    out.push("", `${title} BGP status`);
    if (!peers.length) {
      out.push(`No ${title} peers found.`);
      continue;
    }
    out.push(
      table(
        ["PEER ADDRESS", "PEER TYPE", "STATE", "SINCE", "INFO", "RECEIVED", "ADVERTISED"],
        peers.map((p) => [
          p.address,
          p.type,
          p.state === "Established" ? "up" : "start",
          since(p.since),
          p.info,
          String(p.prefixesReceived[family]),
          String(p.prefixesAdvertised[family]),
        ]),
      ),
    );
  }
  if (s.warnings.length) out.push("", "Warnings:", ...s.warnings.map((w) => `  ${w}`));
  return out.join("\n");
}

/** One peer in full, as BIRD's `show protocols all` reads. */
export function formatPeer(p: PeerDetail): string {
  const n = p.negotiated;
  const fam = (fs: string[]) => (fs.length ? fs.join(" ") : "none");
  const lines = [
    `${p.name} (${p.type}) ${p.address} port ${p.port}, from ${p.from}`,
    `  State:            ${p.state}${p.since ? ` since ${p.since}` : ""}`,
    `  Neighbor AS:      ${p.peerAs}, local AS ${p.localAs}${p.rrClient ? ", route-reflector client" : ""}`,
    `  Last error:       ${p.lastError ?? "none"}`,
    `  BGPFilters:       ${p.filters.length ? p.filters.join(", ") : "none"}`,
  ];
  if (n) {
    lines.push(
      `  Neighbor ID:      ${n.peerId}`,
      `  Hold timer:       ${n.holdTime} s, keepalive ${n.keepaliveTime} s`,
      `  Families:         ${fam(n.families)}`,
      `  ADD-PATH:         receive ${fam(n.addPathReceive)}, send ${fam(n.addPathSend)}`,
      `  Graceful restart: ${n.gracefulRestart ? `restart time ${n.gracefulRestart.restartTime} s, ${fam(n.gracefulRestart.families)}${n.gracefulRestart.notification ? ", N bit" : ""}` : "no"}`,
      `  Long-lived GR:    ${n.longLivedGracefulRestart.length ? n.longLivedGracefulRestart.map((f) => `${f.family} ${f.staleTime} s`).join(", ") : "no"}`,
      `  Route refresh:    ${n.routeRefresh ? (n.enhancedRouteRefresh ? "enhanced" : "yes") : "no"}; 4-octet AS ${n.fourOctetAs ? "yes" : "no"}; extended messages ${n.extendedMessage ? "yes" : "no"}`,
      `  Its capabilities: ${n.capabilities.join(", ")}`,
    );
  }
  const count = (r: Record<string, number>) => `${r.ipv4 ?? 0} IPv4, ${r.ipv6 ?? 0} IPv6`;
  lines.push(
    `  Prefixes:         received ${count(p.prefixesReceived)}; advertised ${count(p.prefixesAdvertised)}; left out ${count(p.prefixesLeftOut)}`,
    `  Messages:         ${p.updatesReceived} UPDATEs received, ${p.bytesReceived} octets in, ${p.bytesSent} out; ${p.flaps} flaps`,
    `  NOTIFICATIONs:    ${p.notifications.length ? p.notifications.map((x) => `${x.direction} ${x.code}/${x.subcode} x${x.count}`).join(", ") : "none"}`,
    `  Advertised:       ${p.advertised.length ? p.advertised.join(" ") : "nothing"}`,
  );
  return lines.join("\n");
}

type Attrs = Record<string, unknown> & {
  asPath?: { type: string; asns: number[] }[];
  mpReach?: { nextHop?: string };
};

function attributesText(a: Attrs): string {
  const path = (a.asPath ?? [])
    .map((seg) => (seg.type === "AS_SET" ? `{${seg.asns.join(",")}}` : seg.asns.join(" ")))
    .join(" ");
  const parts = [
    `next hop ${String(a.nextHop ?? a.mpReach?.nextHop ?? "-")}`,
    `AS path ${path || "-"}`,
    `origin ${String(a.origin ?? "-")}`,
  ];
  if (a.localPref !== undefined) parts.push(`local-pref ${String(a.localPref)}`);
  if (a.med !== undefined) parts.push(`MED ${String(a.med)}`);
  if (a.originatorId) parts.push(`originator ${String(a.originatorId)}`);
  if (Array.isArray(a.clusterList)) parts.push(`cluster list ${a.clusterList.join(" ")}`);
  for (const k of ["communities", "largeCommunities", "extCommunities"]) {
    if (Array.isArray(a[k])) parts.push(`${k} ${JSON.stringify(a[k])}`);
  }
  return parts.join(", ");
}

/** How long ago, as BIRD and FRR print a route's age: 45s, 3m12s, 2h05m, 3d04h. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** The routes as text; `now` (ms since the epoch) for their ages. */
export function formatRoutes(routes: RouteEntry[], now: number): string {
  if (!routes.length) return "No routes.";
  const out: string[] = [];
  for (const r of routes) {
    out.push(r.prefix);
    for (const p of r.paths) {
      const state = `${p.best ? "best" : `not best: lost at ${p.lostAt}`}${p.stale ? ", stale" : ""}`;
      const why = `${state}, age ${age(now - Date.parse(p.learnedAt))}`;
      const id = p.pathId ? ` path id ${p.pathId}` : "";
      out.push(
        `  ${p.best ? "*" : " "} from ${p.peer} (${p.peerRouterId})${id}: ${attributesText(p.attributes as Attrs)}  [${why}]`,
      );
    }
  }
  return out.join("\n");
}

export async function statusCommand(argv: string[], print: Print): Promise<number> {
  const { values, positionals } = options(argv);
  if (values.help) {
    print(CONTROL_USAGE);
    return 0;
  }
  if (positionals.length > 1)
    throw new UsageError(`status takes one PEER at most: ${JSON.stringify(positionals[1])}`);
  const peer = positionals[0];
  if (peer !== undefined) {
    if (!parseAddress(peer)) throw new UsageError(`not an address: ${JSON.stringify(peer)}`);
    const p = await get<PeerDetail>(values.http, `/status?${new URLSearchParams({ peer })}`);
    print(values.json ? JSON.stringify(p, null, 2) : formatPeer(p));
    return 0;
  }
  const s = await get<Status>(values.http, "/status");
  print(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  return 0;
}

export async function routesCommand(argv: string[], print: Print): Promise<number> {
  const { values, positionals } = options(argv);
  if (values.help) {
    print(CONTROL_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError("routes takes at most one PREFIX");
  const prefix = positionals[0];
  if (prefix !== undefined && !isPrefixOrAddress(prefix))
    throw new UsageError(`not a prefix or an address: ${JSON.stringify(prefix)}`);
  if (values.peer !== undefined && !parseAddress(values.peer))
    throw new UsageError(`--peer: not an address: ${JSON.stringify(values.peer)}`);
  const q = new URLSearchParams();
  if (positionals[0]) q.set("prefix", positionals[0]);
  if (values.peer) q.set("peer", values.peer);
  const routes = await get<RouteEntry[]>(values.http, `/routes${q.size ? `?${q}` : ""}`);
  print(values.json ? JSON.stringify(routes, null, 2) : formatRoutes(routes, Date.now()));
  return 0;
}

export async function whyCommand(argv: string[], print: Print): Promise<number> {
  const { values, positionals } = options(argv);
  if (values.help) {
    print(CONTROL_USAGE);
    return 0;
  }
  const [prefix, ...more] = positionals;
  if (!prefix || more.length || !values.peer)
    throw new UsageError("usage: routereflector why PREFIX --peer ADDR");
  if (!parseCidr(prefix)) throw new UsageError(`not a prefix: ${JSON.stringify(prefix)}`);
  if (!parseAddress(values.peer))
    throw new UsageError(`--peer: not an address: ${JSON.stringify(values.peer)}`);
  const q = new URLSearchParams({ prefix, peer: values.peer });
  const r = await get<{ paths: string[] }>(values.http, `/why?${q}`);
  print(
    values.json
      ? JSON.stringify(r, null, 2)
      : [`${prefix} to ${values.peer}:`, ...r.paths.map((l) => `  ${l}`)].join("\n"),
  );
  return 0;
}

export async function refreshCommand(argv: string[], print: Print): Promise<number> {
  const { values, positionals } = options(argv);
  if (values.help) {
    print(CONTROL_USAGE);
    return 0;
  }
  const [peer, ...more] = positionals;
  if (!peer || more.length) throw new UsageError("usage: routereflector refresh PEER [--family ipv4|ipv6]");
  if (!parseAddress(peer)) throw new UsageError(`not an address: ${JSON.stringify(peer)}`);
  const q = new URLSearchParams({ peer, ...(values.family ? { family: values.family } : {}) });
  const r = await get<{ requested: string[] }>(values.http, `/refresh?${q}`, "POST");
  print(`asked ${peer} for its ${r.requested.join(" and ")} routes again`);
  return 0;
}

/**
 * Reads the datastore once, as the daemon would at its start: the store when it synced, with the
 * number of problems printed (errors), else the exit code (1) once the reason is printed.
 */
export async function readOnce(
  config: Config,
  printError: Print,
): Promise<{ store: Store; problems: number } | number> {
  const store = new Store();
  let problems = 0;
  /** the datastore failed before it was read (unreachable, refused us): the check is over */
  let failed = false;
  const log = pino(
    { level: "warn", base: undefined, timestamp: false },
    {
      write: (line: string) => {
        const l = JSON.parse(line) as {
          level: number;
          msg: string;
          key?: string;
          err?: string;
          event?: string;
        };
        if (l.level >= 50) problems++;
        if (l.level >= 50 && l.event !== "invalidObject" && !store.synced) failed = true;
        printError(
          `${l.level >= 50 ? "error" : "warning"}: ${l.msg}${l.key ? `: ${l.key}` : ""}${l.err ? `: ${l.err}` : ""}`,
        );
      },
    },
  );
  let source: Awaited<ReturnType<typeof makeSource>> | undefined;
  try {
    source = await makeSource(config, store, log);
    await source.start();
    // A daemon retries for ever; a check reports the first failure (printed above) and ends.
    const deadline = Date.now() + 15_000;
    while (!store.synced && !failed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (!store.synced) {
      printError(
        failed
          ? `routereflector: the ${config.datastoreType} datastore could not be read`
          : `routereflector: the ${config.datastoreType} datastore did not answer within 15 s`,
      );
      return 1;
    }
  } catch (e) {
    printError(`routereflector: ${(e as Error).message}`);
    return 1;
  } finally {
    await source?.stop();
  }
  return { store, problems };
}

/** Reads the configuration and the datastore once, prints the peerings; 1 when anything is wrong. */
export async function configCheckCommand(argv: string[], print: Print, printError: Print): Promise<number> {
  const config = configOrError(argv, printError);
  if (!config) return 2;
  const read = await readOnce(config, printError);
  if (typeof read === "number") return read;
  const { store } = read;
  let { problems } = read;
  const p = computePeerings(store.snapshot(), config, store.secret);
  const routerId = config.routerId ?? p.routerId ?? config.ip;
  print(
    `${p.mode} mode${p.node ? ` as node ${p.node}` : ""}: router ID ${routerId ?? "(none: set IP)"}, AS ${p.localAs}, cluster ID ${p.clusterId ?? routerId ?? "-"}, BGP port ${p.listenPort}`,
  );
  print(
    p.peers.length
      ? table(
          [
            "NAME",
            "PEER ADDRESS",
            "PORT",
            "PEER TYPE",
            "AS",
            "LOCAL AS",
            "RR CLIENT",
            "PASSIVE",
            "MAX PREFIXES",
            "FROM",
          ],
          p.peers.map((s) => [
            s.name,
            s.address,
            String(s.port),
            s.type,
            String(s.peerAs),
            String(s.localAs),
            s.rrClient ? "yes" : "no",
            s.passive ? "yes" : "no",
            s.maxPrefixes ? String(s.maxPrefixes) : "-",
            s.from,
          ]),
        )
      : "No peerings.",
  );
  for (const w of p.warnings) printError(`warning: ${w}`);
  if (config.nodeName && p.mode !== "node") {
    printError(
      `error: NODENAME ${config.nodeName} matches no Calico Node: the reflector would run in legacy mode`,
    );
    problems++;
  }
  if (!routerId) {
    printError("error: no router ID: set IP or CALICO_ROUTER_ID, or give the Calico Node an IPv4 address");
    problems++;
  }
  return problems ? 1 : 0;
}
