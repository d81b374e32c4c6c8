#!/usr/bin/env node
// The routereflector command.
import { readFileSync } from "node:fs";
import { assignmentCommand } from "./cli/assignment-command.js";
import { CODEC_USAGE, decodeCommand, encodeCommand, UsageError } from "./cli/codec-commands.js";
import {
  CONTROL_USAGE,
  configCheckCommand,
  refreshCommand,
  routesCommand,
  statusCommand,
  whyCommand,
} from "./cli/control-commands.js";
import { RUN_USAGE, runCommand } from "./cli/run.js";

const USAGE = `usage: routereflector [command] [options]
commands:
  run        run the route reflector (the default; 'routereflector run --help' lists its settings)
  status     the peers of the running reflector, their state and prefix counts
  routes     the running reflector's routes: every path, the best marked and why it won
  why        why a peer is or is not sent each path of a prefix
  refresh    ask a peer of the running reflector to send its routes again (ROUTE-REFRESH)
  config     'config check': validate the configuration and print the peerings it yields
  assignment which reflectors each node would be given (R each, zone-aware), and what a change moves
  decode     decode BGP messages given as hex into JSON, one object per message
  encode     encode JSON messages (one per line on stdin) into hex
  version    print the version
Run 'routereflector <command> --help' for a command's options.

${CONTROL_USAGE}

${CODEC_USAGE}`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const printError = (line: string) => process.stderr.write(`${line}\n`);
  switch (command) {
    case "decode":
      return decodeCommand(rest, print);
    case "encode":
      return encodeCommand(rest, print, printError);
    case undefined:
    case "run":
      return runCommand(rest, printError);
    case "status":
      return statusCommand(rest, print);
    case "routes":
      return routesCommand(rest, print);
    case "refresh":
      return refreshCommand(rest, print);
    case "why":
      return whyCommand(rest, print);
    case "assignment":
      return assignmentCommand(rest, print, printError);
    case "config":
      if (
        rest[0] === "--help" ||
        rest[0] === "-h" ||
        (rest[0] === "check" && /^(--help|-h)$/.test(rest[1] ?? ""))
      ) {
        print(`usage: routereflector config check [flags]
Validates the configuration, reads the datastore once and prints the peerings it yields; exits 1
when an object is invalid or the datastore cannot be read, 2 when a setting is wrong. It takes
the settings of run:

${RUN_USAGE.split("\n").slice(2).join("\n")}`);
        return 0;
      }
      if (rest[0] !== "check") throw new UsageError("usage: routereflector config check [flags]");
      return configCheckCommand(rest.slice(1), print, printError);
    case "version":
    case "--version":
      print(version());
      return 0;
    case "help":
    case "--help":
    case "-h":
      print(USAGE);
      return 0;
    default:
      if (command.startsWith("--")) return runCommand(argv, printError);
      printError(
        command === undefined
          ? USAGE
          : `routereflector: unknown command ${JSON.stringify(command)}\n\n${USAGE}`,
      );
      return 2;
  }
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
    // A command that read a datastore once (config check) ends here, once its output is out:
    // the etcd and Kubernetes clients may keep connections open after they are stopped.
    if (argv[0] === "config")
      process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`routereflector: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  },
);
