// The parent's side of test/helpers/sim-peers.ts: starts the simulated peers in their own
// process, waits until every session is Established, and asks for their report.
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./shared.js";

export interface SimReport {
  established: number;
  notifications: string[];
  /** the longest time between two messages from the reflector to any one peer */
  maxGapMs: number;
}

/** `count` peers from `firstLocal` upwards connect to `target` port 179 with this hold time. */
export async function startSimPeers(
  target: string,
  firstLocal: string,
  count: number,
  holdTime: number,
  asn = 64512,
): Promise<ChildProcess> {
  const child = fork(
    join(REPO_ROOT, "test/helpers/sim-peers.ts"),
    [target, "179", firstLocal, String(count), String(holdTime), String(asn)],
    { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("message", () => resolve());
    child.once("exit", (code) => reject(new Error(`simulated peers exited (${code})`)));
  });
  return child;
}

export function simReport(child: ChildProcess): Promise<SimReport> {
  return new Promise((resolve) => {
    const onMessage = (m: { type: string } & SimReport) => {
      if (m.type !== "report") return;
      child.off("message", onMessage);
      resolve(m);
    };
    child.on("message", onMessage);
    child.send({ type: "report" });
  });
}
