// Runs the built command line (dist/cli.js), as a user would.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { waitFor } from "./lab.js";
import { REPO_ROOT } from "./shared.js";

export const CLI = resolve(REPO_ROOT, "dist/cli.js");

export function runCli(
  args: string[],
  input?: string,
  env?: Record<string, string>,
): { status: number; stdout: string; stderr: string } {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first`);
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: input ?? "",
    encoding: "utf8",
    timeout: 30_000,
    ...(env ? { env: { PATH: process.env.PATH ?? "", ...env } } : {}),
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The keys that appear more than once at the top level of a JSON object's text. */
export function duplicateKeys(text: string): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      // a string: skip it; at depth 1 followed by ':' it is a key
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = text.slice(i + 1, j);
      let k = j + 1;
      while (text[k] === " ") k++;
      if (depth === 1 && text[k] === ":") {
        if (seen.has(s)) twice.push(s);
        seen.add(s);
      }
      i = j;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return twice;
}

/** The built reflector running as a child process, its JSON log lines collected. */
export class Daemon {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  /** lines in which a key appears twice (JSON.parse keeps the last; a log shipper may keep either) */
  readonly duplicated: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;

  /**
   * `prefix`: a command that runs node, such as setpriv to drop root; `program`: what runs the
   * reflector, this node and the built CLI unless given (an image's command, test/helpers/image.ts)
   */
  constructor(
    env: Record<string, string>,
    args: string[] = [],
    prefix: string[] = [],
    program: string[] = [process.execPath, CLI],
  ) {
    if (program.includes(CLI) && !existsSync(CLI))
      throw new Error(`${CLI} is missing: run 'npm run build' first`);
    const [cmd, ...rest] = [...prefix, ...program, ...args] as [string, ...string[]];
    this.proc = spawn(cmd, rest, {
      env: { PATH: process.env.PATH ?? "", HTTP_LISTEN: "off", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.proc.stdout?.on("data", (d: Buffer) => {
      partial += d.toString();
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const p of parts) {
        if (!p) continue;
        this.lines.push(JSON.parse(p) as Record<string, unknown>);
        if (duplicateKeys(p).length) this.duplicated.push(p);
      }
    });
    this.proc.stderr?.on("data", (d: Buffer) => this.stderr.push(d.toString()));
    this.exited = new Promise((resolve) => this.proc.once("exit", (code) => resolve(code)));
  }

  logged(msg: string, fields: Record<string, unknown> = {}): Record<string, unknown>[] {
    return this.lines.filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
  }

  /**
   * The lines logged so far once there is one: the log is written asynchronously (pino), so a
   * line can arrive after what it tells of (a session Established) is already seen elsewhere.
   */
  async until(
    msg: string,
    fields: Record<string, unknown> = {},
    ms = 10_000,
  ): Promise<Record<string, unknown>[]> {
    await waitFor(
      () => this.logged(msg, fields).length > 0,
      ms,
      `log line "${msg}" ${JSON.stringify(fields)}`,
    );
    return this.logged(msg, fields);
  }

  /** Stops it by its PID; resolves with the exit code. */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    if (this.proc.exitCode === null) this.proc.kill(signal);
    return this.exited;
  }
}

/**
 * A datastore file for a reflector at `rr` in legacy mode: no mesh, a BGPPeer at `rr` (every
 * Node its client) and a Node per address (IPv4 or IPv6, as `rr`). Returns its path.
 */
export function clientsFile(dir: string, rr: string, nodes: string[]): string {
  const file = join(dir, "calico.yaml");
  writeFileSync(
    file,
    [
      "apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {nodeToNodeMeshEnabled: false}",
      `apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: peer-with-rr}\nspec: {peerIP: ${rr}, asNumber: 64512}`,
      ...nodes.map(
        (ip, i) =>
          `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata: {name: n${i}}\nspec: {bgp: {${ip.includes(":") ? `ipv6Address: ${ip}/128` : `ipv4Address: ${ip}/32`}}}`,
      ),
    ].join("\n---\n"),
  );
  return file;
}
