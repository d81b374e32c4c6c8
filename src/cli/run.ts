// `routereflector run`: the daemon (src/daemon) with its HTTP endpoints, until a signal stops it.
import type { Server } from "node:http";
import v8 from "node:v8";
import { createMetrics, startHttp } from "../control/index.js";
import { ConfigError, configOrError, createLogger, Daemon, makeSource, VARIABLES } from "../daemon/index.js";
import { FileError } from "../datastore/index.js";
import { logEvent } from "../log/index.js";

/**
 * V8's young generation stays at its initial size (1 MiB semi-spaces) instead of growing to 16 MiB.
 * What a reflector allocates in bulk is long-lived (routes), so a large nursery only adds resident
 * memory: with 100,000 prefixes (bench full-table) peak RSS fell from 165 to 136 MiB at the same
 * speed. V8 reads this flag whenever it would grow the nursery, so setting it now takes effect.
 */
const NURSERY_FLAG = "--semi-space-growth-factor=1";

export const RUN_USAGE = `usage: routereflector [run] [--flag value ...]
Runs the route reflector. Every setting is an environment variable or its flag (the flag wins):
${VARIABLES.map(([name, flag, dflt, what]) => `  ${flag.padEnd(22)}${name.padEnd(19)}${what}${dflt ? ` (default: ${dflt})` : ""}`).join("\n")}`;

/**
 * What a start-up failure prints: the message of a setting or file at fault (it names what to
 * fix), and for anything else, a bug, the stack as well.
 */
export function fatal(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  // (DiscoveryError by name: datastore/etcd.js loads the etcd client, only when etcd is chosen)
  if (err instanceof ConfigError || err instanceof FileError || err.name === "DiscoveryError")
    return `routereflector: ${err.message}`;
  return `routereflector: ${err.message}\n${err.stack ?? ""}`;
}

/** Runs until SIGTERM or SIGINT; SIGHUP reloads. Returns the exit code. */
export async function runCommand(argv: string[], printError: (line: string) => void): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${RUN_USAGE}\n`);
    return 0;
  }
  const config = configOrError(argv, printError);
  if (!config) return 2;
  v8.setFlagsFromString(NURSERY_FLAG);
  const log = createLogger(config.logLevel);
  const daemon = new Daemon(config, log, (store) => makeSource(config, store, log));
  let http: Server | undefined;
  try {
    await daemon.start();
    if (config.httpListen) {
      const { host, port } = config.httpListen;
      http = await startHttp(daemon, createMetrics(daemon), host, port).catch((e: NodeJS.ErrnoException) => {
        throw new ConfigError("HTTP_LISTEN", `cannot listen on ${host}:${port}: ${e.code ?? e.message}`);
      });
      logEvent(log, "httpListening", { http: `${host}:${port}` });
    }
  } catch (e) {
    printError(fatal(e));
    await daemon.stop("start-up failed");
    return 1;
  }
  return new Promise((resolve) => {
    // The process ends here, whatever the libraries still hold open (keep-alive sockets, watches).
    const exit = (code: number) => {
      resolve(code);
      setImmediate(() => process.exit(code));
    };
    // SIGTERM (a rollout, a drain): a planned restart, clients keep our routes meanwhile.
    // SIGUSR2: stop for good (decommissioning), clients withdraw our routes at once.
    const shutdown = (signal: string) => {
      const retain = signal !== "SIGUSR2";
      logEvent(log, retain ? "shuttingDownRetained" : "shuttingDown", { signal });
      const deadline = setTimeout(() => exit(0), 5000);
      http?.close();
      const why = retain ? `route reflector restarting (${signal})` : "route reflector decommissioned";
      void daemon.stop(why, retain).then(() => {
        // Let the NOTIFICATIONs leave before the process ends.
        setTimeout(() => {
          clearTimeout(deadline);
          exit(0);
        }, 200);
      });
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGUSR2", () => shutdown("SIGUSR2"));
    process.on("SIGHUP", () => void daemon.reload());
  });
}
