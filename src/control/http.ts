// The HTTP endpoint: /metrics, /livez, /readyz, and the JSON the status and routes commands read.
// It binds to loopback unless told otherwise (HTTP_LISTEN).
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import type { Daemon } from "../cli/run.js";
import { routes, status } from "./snapshot.js";

export function startHttp(d: Daemon, metrics: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (code: number, type: string, body: string) => {
      res.writeHead(code, { "content-type": type });
      res.end(body);
    };
    const json = (code: number, body: unknown) => send(code, "application/json", `${JSON.stringify(body)}\n`);
    if (req.method !== "GET") return json(405, { error: "GET only" });
    switch (url.pathname) {
      case "/livez":
        return send(200, "text/plain", "ok\n");
      case "/readyz":
        if (d.ready) return send(200, "text/plain", "ok\n");
        return send(503, "text/plain", `${d.store.synced ? "BGP port not bound" : "datastore not synced"}\n`);
      case "/metrics":
        void metrics.metrics().then(
          (text) => send(200, metrics.contentType, text),
          (e: unknown) => send(500, "text/plain", `${(e as Error).message}\n`),
        );
        return;
      case "/status":
        return json(200, status(d));
      case "/routes": {
        const prefix = url.searchParams.get("prefix") ?? undefined;
        const peer = url.searchParams.get("peer") ?? undefined;
        return json(200, routes(d, { ...(prefix ? { prefix } : {}), ...(peer ? { peer } : {}) }));
      }
      default:
        return json(404, { error: `no ${url.pathname}; try /status, /routes, /metrics, /livez, /readyz` });
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
