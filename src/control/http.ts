// The HTTP endpoint: /metrics, /livez, /readyz, and the JSON the status and routes commands read.
// It binds to loopback unless told otherwise (HTTP_LISTEN).
//
// It shares the process with every BGP session, so nothing it does may starve them: /routes is
// streamed in short slices with backpressure (memory per answer stays at a slice and a socket
// buffer, whatever the table's size), only a few are answered at once (the rest get 503 with
// Retry-After), connections are capped so clients cannot take the file descriptors BGP needs,
// and slow or idle clients are cut off.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import { jsonReplacer } from "../bgp/index.js";
import type { Daemon } from "../daemon/index.js";
import { isPrefixOrAddress } from "../datastore/index.js";
import { peerDetail, type RouteEntry, routes, status } from "./snapshot.js";

/** /routes answers streamed at once; more wait for a 503's Retry-After. */
export const MAX_ROUTE_STREAMS = 4;
/**
 * open HTTP connections answered: a connection accepted while this many are open gets 503 to
 * every request, and past HARD_MAX it is closed. Decided at accept, so a flood of new connections
 * cannot starve those that came before it.
 */
export const MAX_CONNECTIONS = 64;
const HARD_MAX_CONNECTIONS = 256;
/** characters of JSON per write */
const WRITE_SIZE = 16 * 1024;
/** milliseconds of serialising per turn of the event loop */
const SLICE_MS = 5;
/** a socket that neither sends nor takes anything for this long is closed */
const IDLE_TIMEOUT_MS = 30_000;

/**
 * POST /refresh?peer=ADDR[&family=ipv4|ipv6]: asks the peer to send its routes again (RFC 2918
 * ROUTE-REFRESH), for each family of its session unless one is named. 404: no such peer; 409: its
 * session is not Established, or it did not announce route refresh.
 */
function refresh(d: Daemon, url: URL): { code: number; body: unknown } {
  const address = url.searchParams.get("peer") ?? "";
  const peer = d.reflector?.peer(address);
  if (!peer) return { code: 404, body: { error: `no peer ${JSON.stringify(address)}` } };
  const negotiated = peer.session.negotiated;
  if (!negotiated) return { code: 409, body: { error: `the session with ${address} is not Established` } };
  if (!negotiated.routeRefresh)
    return { code: 409, body: { error: `${address} did not announce route refresh` } };
  const family = url.searchParams.get("family");
  if (family !== null && family !== "ipv4" && family !== "ipv6")
    return { code: 400, body: { error: `family: ${JSON.stringify(family)} is not ipv4 or ipv6` } };
  const families = family ? negotiated.families.filter((f) => f === family) : negotiated.families;
  if (!families.length) return { code: 409, body: { error: `the session with ${address} has no ${family}` } };
  for (const f of families) peer.requestRefresh(f);
  return { code: 200, body: { peer: address, requested: families } };
}

export function startHttp(d: Daemon, metrics: Registry, host: string, port: number): Promise<Server> {
  let streams = 0;
  let connections = 0;
  const refused = new WeakSet<object>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const head = req.method === "HEAD";
    const send = (code: number, type: string, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(code, { "content-type": type, ...headers });
      res.end(head ? undefined : body);
    };
    const json = (code: number, body: unknown) =>
      send(code, "application/json", `${JSON.stringify(body, jsonReplacer)}\n`);
    const busy = (why: string) =>
      send(503, "application/json", `${JSON.stringify({ error: `busy: ${why}` })}\n`, { "retry-after": "1" });
    if (refused.has(req.socket)) {
      res.shouldKeepAlive = false;
      return busy("too many connections");
    }
    if (url.pathname === "/refresh") {
      if (req.method !== "POST")
        return send(405, "application/json", '{"error":"POST only"}\n', { allow: "POST" });
      const r = refresh(d, url);
      return json(r.code, r.body);
    }
    if (req.method !== "GET" && !head)
      return send(405, "application/json", '{"error":"GET or HEAD only"}\n', { allow: "GET, HEAD" });
    switch (url.pathname) {
      case "/livez":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        if (d.ready) return send(200, "text/plain", "ok\n");
        return send(503, "text/plain", `${notReady(d)}\n`);
      case "/metrics":
        void metrics.metrics().then(
          (text) => send(200, metrics.contentType, text),
          (e: unknown) => send(500, "text/plain", `${(e as Error).message}\n`),
        );
        return;
      case "/status": {
        const peer = url.searchParams.get("peer");
        if (!peer) return json(200, status(d));
        const detail = peerDetail(d, peer, Number(url.searchParams.get("limit") ?? 1000) || 1000);
        return detail ? json(200, detail) : json(404, { error: `no peer ${JSON.stringify(peer)}` });
      }
      case "/why": {
        const prefix = url.searchParams.get("prefix");
        const peer = url.searchParams.get("peer");
        if (!prefix || !peer) return json(400, { error: "/why needs prefix and peer" });
        if (!d.reflector) return json(409, { error: "not peering yet" });
        return json(200, { prefix, peer, paths: d.reflector.why(prefix, peer) });
      }
      case "/routes": {
        if (head) return send(200, "application/json", "");
        if (streams >= MAX_ROUTE_STREAMS) return busy("too many /routes answers at once");
        const prefix = url.searchParams.get("prefix") ?? undefined;
        const peer = url.searchParams.get("peer") ?? undefined;
        if (prefix !== undefined && !isPrefixOrAddress(prefix))
          return json(400, { error: `not a prefix or an address: ${JSON.stringify(prefix)}` });
        streams++;
        res.once("close", () => streams--);
        res.writeHead(200, { "content-type": "application/json" });
        streamArray(res, routes(d, { ...(prefix ? { prefix } : {}), ...(peer ? { peer } : {}) }));
        return;
      }
      default:
        return json(404, {
          error: `no ${url.pathname}; try /status, /routes, /why, /metrics, /livez, /readyz, POST /refresh`,
        });
    }
  });
  server.on("connection", (socket) => {
    if (connections >= MAX_CONNECTIONS) refused.add(socket);
    connections++;
    socket.once("close", () => connections--);
  });
  server.maxConnections = HARD_MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.timeout = IDLE_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function notReady(d: Daemon): string {
  if (!d.store.synced) return "datastore not synced";
  if (!d.listening) return "BGP port not bound";
  return "selection deferral: clients do not have their tables yet";
}

/**
 * Writes the entries as one JSON array in pieces of about WRITE_SIZE, for at most SLICE_MS per
 * turn of the event loop, and waits for the socket to drain (and the next turn) whenever it holds
 * more than its buffer. Small pieces die young: the garbage collector reclaims them before they
 * are promoted.
 */
function streamArray(res: ServerResponse, entries: Iterator<RouteEntry>): void {
  let first = true;
  const slice = (): void => {
    if (res.destroyed) return;
    const start = performance.now();
    let text = first ? "[" : "";
    for (;;) {
      const next = entries.next();
      if (next.done) {
        res.end(`${text}]\n`);
        return;
      }
      text += `${first ? "" : ","}${JSON.stringify(next.value, jsonReplacer)}`;
      first = false;
      if (text.length < WRITE_SIZE) continue;
      const more = res.write(text);
      text = "";
      if (!more) {
        // 'drain' comes on the tick queue when the kernel took the bytes at once (loopback):
        // resuming there would chain every answer without ever letting the event loop turn.
        res.once("drain", () => setImmediate(slice));
        return;
      }
      if (performance.now() - start > SLICE_MS) {
        setImmediate(slice);
        return;
      }
    }
  };
  slice();
}
