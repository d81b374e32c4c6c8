// A process of simulated Calico nodes (clients.ts), started with fork() and driven over IPC: what
// it last said of its progress, and its report when asked.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Plan, Report } from "./clients.js";

export interface Progress {
  established: number;
  converged: number;
  complete: number;
}

/** this file's clients.ts beside it, built (.js) or, run under tsx, as the source */
const CLIENTS = fileURLToPath(
  new URL(`./clients${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url),
);

/** One simulated nodes' process, and what it last said. */
export class ClientProcess {
  readonly proc: ChildProcess;
  progress: Progress = { established: 0, converged: 0, complete: 0 };
  private reply: ((r: Report) => void) | undefined;

  constructor(plan: Plan) {
    // SIM_CPU_PROF=dir: profile the simulated nodes (node --cpu-prof), written when they stop
    const prof = process.env.SIM_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.SIM_CPU_PROF] : [];
    this.proc = fork(CLIENTS, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...(CLIENTS.endsWith(".ts") ? ["--import", "tsx"] : []), ...prof],
    });
    this.proc.on("message", (m: { type: string } & Progress & Report) => {
      if (m.type === "progress") this.progress = m;
      if (m.type === "report") this.reply?.(m);
    });
    this.proc.send({ type: "start", ...plan });
  }

  send(m: object): void {
    this.proc.send(m);
  }

  report(): Promise<Report> {
    return new Promise((resolve) => {
      this.reply = resolve;
      this.proc.send({ type: "report" });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.proc.send({ type: "stop" });
    await exited;
  }
}
