// A log line per event is a way to fill a disk: a flood of connections from addresses that are no
// peer would write one warning each. The first is logged at once, then at most one line per
// interval, saying how many came since the last line. Time is an argument.

export class LogLimit {
  private last = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(private readonly intervalMs: number) {}

  /** For an event at `now`: undefined when it is not to be logged, else how many went unlogged before it. */
  take(now: number): number | undefined {
    if (now - this.last < this.intervalMs) {
      this.unlogged++;
      return undefined;
    }
    const n = this.unlogged;
    this.last = now;
    this.unlogged = 0;
    return n;
  }
}
