// Coalescer: a burst of requests makes one run now and one after it, never two at once, and the
// next run waits twice the last one's duration (fake timers).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Coalescer } from "../../src/daemon/coalesce.js";

describe("Coalescer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A task that takes `ms` of fake time, counting runs and the most at once. */
  function task(ms: number) {
    const seen = { runs: 0, running: 0, most: 0, starts: [] as number[] };
    const run = async () => {
      seen.runs++;
      seen.starts.push(Date.now());
      seen.most = Math.max(seen.most, ++seen.running);
      await new Promise((r) => setTimeout(r, ms));
      seen.running--;
    };
    return { seen, run };
  }

  it("runs at once when idle; a burst while it runs makes one more run, spaced by twice its duration", async () => {
    const { seen, run } = task(300);
    const c = new Coalescer(run, 100, () => {});
    const t0 = Date.now();
    c.request();
    expect(seen.runs).toBe(1);
    for (let i = 0; i < 50; i++) {
      await vi.advanceTimersByTimeAsync(5);
      c.request();
    }
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen.runs).toBe(2);
    expect(seen.most).toBe(1);
    // the second began 600 ms (twice 300) after the first
    expect(seen.starts.map((s) => s - t0)).toEqual([0, 600]);
  });

  it("a quick task is spaced by the minimum gap, and a request long after runs at once", async () => {
    const { seen, run } = task(1);
    const c = new Coalescer(run, 100, () => {});
    const t0 = Date.now();
    c.request();
    await vi.advanceTimersByTimeAsync(10);
    c.request();
    await vi.advanceTimersByTimeAsync(200);
    expect(seen.starts.map((s) => s - t0)).toEqual([0, 100]);
    await vi.advanceTimersByTimeAsync(1000);
    c.request();
    expect(seen.runs).toBe(3);
  });

  it("a failing run is reported and the next still runs; cancel drops the one pending", async () => {
    const errors: unknown[] = [];
    let n = 0;
    const c = new Coalescer(
      async () => {
        n++;
        if (n === 1) throw new Error("boom");
      },
      100,
      (e) => errors.push(e),
    );
    c.request();
    await vi.advanceTimersByTimeAsync(0);
    expect((errors[0] as Error).message).toBe("boom");
    c.request();
    await vi.advanceTimersByTimeAsync(150);
    expect(n).toBe(2);
    c.request();
    c.cancel();
    await vi.advanceTimersByTimeAsync(500);
    expect(n).toBe(2);
  });
});
