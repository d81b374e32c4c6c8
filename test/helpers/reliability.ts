// Reliability scenarios: a test that is one declares it here, and what it measured. The JSON
// reporter carries this (task.meta) to scripts/reliability.mjs, which writes docs/reliability.md
// from the test run and the bench results.
import type { TestContext } from "vitest";

export interface Scenario {
  /** what happens, in a few words */
  scenario: string;
  /** the load while it happens */
  load: string;
  /** the fault injected */
  fault: string;
  /** what the test checks */
  checked: string;
}

declare module "@vitest/runner" {
  interface TaskMeta {
    reliability?: Scenario & { measured?: string };
  }
}

/** Declares the running test a reliability scenario; call the result with what was measured. */
export function reliability(ctx: TestContext, s: Scenario): (measured: string) => void {
  const meta: Scenario & { measured?: string } = { ...s };
  ctx.task.meta.reliability = meta;
  return (measured) => {
    meta.measured = measured;
    ctx.task.meta.reliability = meta;
  };
}
