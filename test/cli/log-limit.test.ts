import { expect, it } from "vitest";
import { LogLimit } from "../../src/daemon/index.js";

it("logs the first event, then one per interval with how many went unlogged", () => {
  const l = new LogLimit(1000);
  expect(l.take(0)).toBe(0);
  expect([l.take(1), l.take(500), l.take(999)]).toEqual([undefined, undefined, undefined]);
  expect(l.take(1000)).toBe(3);
  expect(l.take(1500)).toBeUndefined();
  expect(l.take(5000)).toBe(1);
  expect(l.take(9000)).toBe(0);
});
