// npm run sim -- --seeds N [--seed S]: more seeded schedules than CI runs, with a progress line.
// A failure prints its seed and the shrunk schedule as a scenario that replays it.
import { parseArgs } from "node:util";
import fc from "fast-check";
import { asScenario, runSchedule, schedule, totals } from "../helpers/sim.js";

const { values } = parseArgs({
  options: { seeds: { type: "string", default: "1000" }, seed: { type: "string" } },
});
const runs = Number(values.seeds);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 2 ** 31;
let done = 0;
const started = Date.now();
const result = fc.check(
  fc.property(schedule, (s) => {
    const failure = runSchedule(s);
    done++;
    if (done % 10 === 0 || done === runs)
      process.stderr.write(
        `\r\x1b[K${done}/${runs} schedules, ${totals.executed} events, ${totals.checks} tables compared (${((Date.now() - started) / 1000).toFixed(0)} s)`,
      );
    if (!failure) return true;
    const { config, events } = asScenario(s, failure.index);
    throw new Error(
      `at ${failure.at} ms, after "${failure.event}": ${failure.message}\n--- config.txt\n${config}--- events.txt\n${events}`,
    );
  }),
  { numRuns: runs, seed },
);
process.stderr.write("\n");
if (result.failed) {
  console.log(`seed ${seed} failed (replay: npm run sim -- --seeds ${runs} --seed ${seed})`);
  console.log(String("errorInstance" in result ? result.errorInstance : result));
  process.exit(1);
}
console.log(
  `seed ${seed}: ${runs} schedules passed; ${totals.executed} of ${totals.events} events taken, ${totals.checks} tables compared (${totals.nonEmpty} with routes)`,
);
