// Deterministic simulation in the test suite: a fixed number of seeded schedules (SIM_SEEDS, 40
// by default; `npm run sim -- --seeds N` runs more). A failure prints its seed and the shrunk
// schedule as a scenario (config.txt and events.txt) that replays it.
import fc from "fast-check";
import { describe, it } from "vitest";
import { asScenario, runSchedule, schedule } from "../helpers/sim.js";

const SEEDS = Number(process.env.SIM_SEEDS ?? 40);
const SEED = Number(process.env.SIM_SEED ?? 20261201);

describe("deterministic simulation", () => {
  it(`${SEEDS} schedules: every client's table matches the model at every quiescent point`, () => {
    fc.assert(
      fc.property(schedule, (s) => {
        const failure = runSchedule(s);
        if (!failure) return true;
        const { config, events } = asScenario(s, failure.index);
        throw new Error(
          `at ${failure.at} ms, after "${failure.event}": ${failure.message}\n--- config.txt\n${config}--- events.txt\n${events}`,
        );
      }),
      { numRuns: SEEDS, seed: SEED, endOnFailure: false },
    );
  }, 600_000);
});
